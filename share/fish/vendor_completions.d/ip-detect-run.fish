complete -c ip-detect-run -l timeout -d 'Seconds before the script and all its children are killed' -r
complete -c ip-detect-run -l family -d 'Address family the script must print' -r -f -a "4\t'IPv4'
6\t'IPv6'"
complete -c ip-detect-run -l pin -d 'Record the first accepted address in FILE (atomically, never rewritten); on later runs a different address is an error (exit 5), because a node whose IP changes breaks the cluster' -r -F
complete -c ip-detect-run -l no-require-local -d 'Accept an address that no local interface holds (default: refuse it)'
complete -c ip-detect-run -l json -d 'Print a JSON document {format, address, family, pin} instead of the bare address'
complete -c ip-detect-run -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ip-detect-run -s V -l version -d 'Print version'
