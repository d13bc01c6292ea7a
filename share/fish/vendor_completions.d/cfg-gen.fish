complete -c cfg-gen -l genconf -d 'The genconf directory (config.yaml, ip-detect, templates/). Relative file names in config.yaml are relative to its parent, as in DC/OS' -r -F
complete -c cfg-gen -l dist -d 'pkg-bundle\'s output: DIST/bootstrap/<id>.bootstrap.tar.zst and <id>.active.json. Required unless --validate-only or --print-config' -r -F
complete -c cfg-gen -l repo -d 'The package repository holding packages/<name>/<id>.tar.zst and <id>.json for every bundle package (default: DIST)' -r -F
complete -c cfg-gen -l bootstrap-id -d 'The bundle to use when DIST/bootstrap holds several' -r
complete -c cfg-gen -l bin-dir -d 'Directory holding the host tools (host-extract, ip-detect-run, pkg-activate) to serve under bin/; default: cfg-gen\'s own directory' -r -F
complete -c cfg-gen -l output -d 'Where to write the serve tree (default GENCONF/serve)' -r -F
complete -c cfg-gen -l upgrade-from -d 'A previous serve directory (or its config.json): also write upgrade/<previous config id>/dcos_node_upgrade.sh, which moves hosts installed from it to this configuration, downloading only the packages they lack and switching in one atomic activation. Given a directory, also write a delta from each of its packages to the new version of the same name (packages/<name>/<id>.from-<old id>.delta and <id>.deltas.json), which hosts fetch instead of the archive' -r -F
complete -c cfg-gen -l validate-only -d 'Only validate: report problems (or the config id), write nothing'
complete -c cfg-gen -l print-config -d 'Print the resolved configuration (config.json) on stdout, write nothing'
complete -c cfg-gen -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c cfg-gen -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c cfg-gen -l strict -d 'Treat warnings (keys DC/OS accepts but that have no effect) as errors: report them with the problems and exit 3'
complete -c cfg-gen -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cfg-gen -s V -l version -d 'Print version'
