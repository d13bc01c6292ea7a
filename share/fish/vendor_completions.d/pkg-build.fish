complete -c pkg-build -l tree -d 'Build a whole tree: every package of `treeinfo.json` (or of `VARIANT.treeinfo.json`), honoring its exclude, variants and core_package_list. Without VARIANT, every tree variant present' -r
complete -c pkg-build -l packages -d 'The package tree: one directory per package (`buildinfo.json`, `build`), `treeinfo.json` at its top' -r -F
complete -c pkg-build -l repo -d 'The package repository (`packages/<name>/<id>.tar.zst` + `<id>.json`)' -r -F
complete -c pkg-build -l cache -d 'Source downloads, git mirrors and build work directories' -r -F
complete -c pkg-build -l cache-url -d 'Fetch prebuilt packages by id from this repository (http(s):// or file://, laid out as --repo) before building them; each download is verified against its manifest, and a miss or a bad copy is built' -r
complete -c pkg-build -s j -l jobs -d 'Packages built at once (default: available cores)' -r
complete -c pkg-build -l sandbox -d 'Build isolation: `auto` uses a mount namespace when the kernel allows it and warns otherwise, `namespace` requires it, `none` runs build scripts directly on the host' -r -f -a "auto\t''
namespace\t''
none\t''"
complete -c pkg-build -l level -d 'zstd level of the package archives' -r
complete -c pkg-build -l source-date-epoch -d 'mtime of every archive entry (default: $SOURCE_DATE_EPOCH, else 0)' -r
complete -c pkg-build -l plan -d 'Print the build order and the id each package would get, build nothing (no network needed)'
complete -c pkg-build -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-build -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-build -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pkg-build -s V -l version -d 'Print version'
