complete -c host-extract -l url -d 'Bundle URL (http, https, file:// or a path); repeat for mirrors' -r
complete -c host-extract -l blake3 -d 'The pinned blake3 (64 hex digits) of the bundle file' -r
complete -c host-extract -l repository -d 'Repository root URL for package mode; repeat for mirrors' -r
complete -c host-extract -l package -d 'Package ids to make present (package mode)' -r
complete -c host-extract -l package-file -d 'Package file mode: a package archive built by pkg-build (on any machine), added from this local file. A corrupt archive is exit 3, one that does not match its manifest exit 4; nothing is published then' -r -F
complete -c host-extract -l manifest -d 'The manifest of --package-file (default: the sidecar `<id>.json` beside it, which pkg-build writes next to `<id>.tar.zst`). Missing or unreadable: exit 3, naming the file' -r -F
complete -c host-extract -l max-delta-window -d 'Largest zstd window (MiB) a delta may declare; a delta above it is not decoded and the archive is fetched instead' -r
complete -c host-extract -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c host-extract -l retries -d 'Consecutive failed attempts (without progress) tolerated before giving up (exit 75)' -r
complete -c host-extract -l backoff-ms -d 'First backoff ceiling in milliseconds (doubles per failure, full jitter)' -r
complete -c host-extract -l backoff-max-ms -d 'Largest backoff ceiling in milliseconds' -r
complete -c host-extract -l stall-timeout -d 'Seconds without a byte before an attempt counts as stalled' -r
complete -c host-extract -l connect-timeout -d 'TCP connect timeout in seconds' -r
complete -c host-extract -l total-timeout -d 'Bound on the whole run (every download, retries and waits included), in seconds' -r
complete -c host-extract -l speed-limit -d 'Low-speed limit: an attempt delivering fewer bytes per second than this over --speed-time is abandoned for the next mirror (resumed there with Range). 0 disables it' -r
complete -c host-extract -l speed-time -d 'The window of --speed-limit, in seconds' -r
complete -c host-extract -l max-requests -d 'Requests the run may send over all mirrors and files; when spent, exit 75' -r
complete -c host-extract -l reserve-bytes -d 'Free bytes that must remain after extraction (space preflight)' -r
complete -c host-extract -l reserve-inodes -d 'Free inodes that must remain after extraction (space preflight)' -r
complete -c host-extract -l cacert -d 'PEM file of CA certificates to trust for HTTPS besides the system trust store (a private CA). HTTPS is verified against the system store (SSL_CERT_FILE / SSL_CERT_DIR, else the distribution\'s bundle, e.g. /etc/ssl/certs/ca-certificates.crt); when that store is empty or unreadable, against the Mozilla roots built into this binary (said on stderr). A FILE that cannot be read or holds no certificate fails with exit 3 before any download; a server whose certificate does not verify is not retried' -r -F
complete -c host-extract -l pin -d 'Package mode: the tree hash the manifest of package ID must declare, whichever mirror serves it (else that download counts as bad content and the next mirror is tried; exit 4 when none serves the pinned package). Also checked against a present package\'s local manifest. Repeat for each package' -r
complete -c host-extract -l no-delta -d 'Package mode: never fetch a delta (`<id>.from-<old id>.delta`), always the whole archive. By default a package whose older version is on the host and verified comes as a delta when the repository offers one; any failure of that path falls back to the archive'
complete -c host-extract -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c host-extract -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c host-extract -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c host-extract -s h -l help -d 'Print help (see more with \'--help\')'
complete -c host-extract -s V -l version -d 'Print version'
