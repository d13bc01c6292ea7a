complete -c pkg-bundle -l ids-from -d 'Read ids from FILE, one per line (\'-\' for stdin)' -r -F
complete -c pkg-bundle -l tree -d 'Bundle the bootstrap packages of a tree (`treeinfo.json`, or `VARIANT.treeinfo.json`) of the package tree given by --packages' -r
complete -c pkg-bundle -l packages -d 'The package tree: one directory per package (`buildinfo.json`, `build`), `treeinfo.json` at its top' -r -F
complete -c pkg-bundle -l repo -d 'The package repository (`packages/<name>/<id>.tar.zst` + `<id>.json`)' -r -F
complete -c pkg-bundle -l out -d 'Where to write `bootstrap/` and `packages/` (default: --repo)' -r -F
complete -c pkg-bundle -l level -d 'zstd level (9: within about 10% of xz -6 in size, many times faster)' -r
complete -c pkg-bundle -l threads -d 'zstd worker threads (0: one per core). Never changes the output' -r
complete -c pkg-bundle -l source-date-epoch -d 'mtime of every archive entry (default: $SOURCE_DATE_EPOCH, else 0)' -r
complete -c pkg-bundle -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-bundle -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-bundle -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pkg-bundle -s V -l version -d 'Print version'
