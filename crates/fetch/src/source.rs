//! Where bytes come from: an HTTP(S) URL, a `file://` URL or a plain path.
//!
//! A source is only a name; opening and reading it is [`crate::download`]'s job.

use std::fmt;
use std::path::PathBuf;

/// One place an artifact can be read from. Mirrors are a list of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `http://` or `https://`.
    Http(String),
    /// `file://PATH` or a plain path.
    File(PathBuf),
}

impl Source {
    /// Reads a command-line source: `http(s)://` URLs, `file://` URLs and
    /// anything else as a local path.
    pub fn parse(text: &str) -> Source {
        if text.starts_with("http://") || text.starts_with("https://") {
            Source::Http(text.to_string())
        } else if let Some(path) = text.strip_prefix("file://") {
            Source::File(PathBuf::from(path))
        } else {
            Source::File(PathBuf::from(text))
        }
    }

    /// The source with `relative` (a `/`-separated path) appended: how a
    /// repository URL names one of its files.
    pub fn join(&self, relative: &str) -> Source {
        match self {
            Source::Http(url) => Source::Http(format!("{}/{relative}", url.trim_end_matches('/'))),
            Source::File(path) => Source::File(path.join(relative)),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Http(url) => f.write_str(url),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind() {
        assert_eq!(
            Source::parse("http://h/x"),
            Source::Http("http://h/x".into())
        );
        assert_eq!(
            Source::parse("https://h/x"),
            Source::Http("https://h/x".into())
        );
        assert_eq!(Source::parse("file:///a/b"), Source::File("/a/b".into()));
        assert_eq!(Source::parse("rel/b"), Source::File("rel/b".into()));
    }

    #[test]
    fn join_appends_one_slash() {
        assert_eq!(
            Source::parse("http://h/repo/")
                .join("packages/a/a--1.tar.zst")
                .to_string(),
            "http://h/repo/packages/a/a--1.tar.zst"
        );
        assert_eq!(
            Source::parse("/srv/repo").join("packages/a/a--1.json"),
            Source::File("/srv/repo/packages/a/a--1.json".into())
        );
    }
}
