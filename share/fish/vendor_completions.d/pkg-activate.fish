# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_pkg_activate_global_optspecs
    string join \n root= wait config-dir= systemd-dir= state-dir-root= user-db-root= no-systemd no-fold json q/quiet h/help V/version
end

function __fish_pkg_activate_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_pkg_activate_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_pkg_activate_using_subcommand
    set -l cmd (__fish_pkg_activate_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -l config-dir -d 'Host configuration; the host\'s roles are the entries of <config-dir>/roles/. If <config-dir>/manual_host_users exists, package users are never created: a missing one refuses the set' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -l systemd-dir -d 'Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -l state-dir-root -d 'Parent of the packages\' state directories (<state-dir-root>/<name>)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -l user-db-root -d 'Root of the user database (etc/passwd, etc/group) that package users are checked against and created in: with `/`, by `useradd`; with any other root (a temp root or an image), pkg-activate appends the entries itself, so no root privilege is needed. State directories are chowned to the package user only when running as root' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -l no-systemd -d 'Do not run systemctl (unit files are still copied)'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -l no-fold -d 'Lay out pkgpanda\'s exact per-file farm instead of folding directories that come from one package into one link'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -s V -l version -d 'Print version'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -f -a "activate" -d 'Make exactly these package ids active (none: an empty farm). Prints the new generation number'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -f -a "swap" -d 'Replace the active package of the same name by this id'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -f -a "list" -d 'List the packages in the repository (<root>/packages/)'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -f -a "active" -d 'Print the active package ids'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -f -a "status" -d 'Show the current generation, its packages and roles, and its health (every link resolves, files match generation.json, units copied)'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -f -a "rollback" -d 'Switch back to the previous generation (or --to N). Offline'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -f -a "gc" -d 'Remove old generations (keeping the newest N, current and previous) and every package no remaining generation uses'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -f -a "recover" -d 'Repair what an interrupted run left (every command does this first)'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -f -a "check" -d 'Run the executables in the active packages\' check/ directories'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -f -a "remove" -d 'Remove packages from the repository (refused while a generation uses one)'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -f -a "uninstall" -d 'Deactivate everything: remove installed units, generations, packages and links under the root (the lock file stays)'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -f -a "verify" -d 'Status plus each active package\'s tree hash against host-extract\'s manifest: reports writes that landed inside a package through a folded link. Exit 4 when unhealthy'
complete -c pkg-activate -n "__fish_pkg_activate_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand activate" -l keep -d 'Generations to keep afterwards (current and previous always stay)' -r
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand activate" -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand activate" -l config-dir -d 'Host configuration; the host\'s roles are the entries of <config-dir>/roles/. If <config-dir>/manual_host_users exists, package users are never created: a missing one refuses the set' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand activate" -l systemd-dir -d 'Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand activate" -l state-dir-root -d 'Parent of the packages\' state directories (<state-dir-root>/<name>)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand activate" -l user-db-root -d 'Root of the user database (etc/passwd, etc/group) that package users are checked against and created in: with `/`, by `useradd`; with any other root (a temp root or an image), pkg-activate appends the entries itself, so no root privilege is needed. State directories are chowned to the package user only when running as root' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand activate" -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand activate" -l no-systemd -d 'Do not run systemctl (unit files are still copied)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand activate" -l no-fold -d 'Lay out pkgpanda\'s exact per-file farm instead of folding directories that come from one package into one link'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand activate" -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand activate" -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand activate" -s h -l help -d 'Print help'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand swap" -l keep -d 'Generations to keep afterwards (current and previous always stay)' -r
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand swap" -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand swap" -l config-dir -d 'Host configuration; the host\'s roles are the entries of <config-dir>/roles/. If <config-dir>/manual_host_users exists, package users are never created: a missing one refuses the set' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand swap" -l systemd-dir -d 'Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand swap" -l state-dir-root -d 'Parent of the packages\' state directories (<state-dir-root>/<name>)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand swap" -l user-db-root -d 'Root of the user database (etc/passwd, etc/group) that package users are checked against and created in: with `/`, by `useradd`; with any other root (a temp root or an image), pkg-activate appends the entries itself, so no root privilege is needed. State directories are chowned to the package user only when running as root' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand swap" -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand swap" -l no-systemd -d 'Do not run systemctl (unit files are still copied)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand swap" -l no-fold -d 'Lay out pkgpanda\'s exact per-file farm instead of folding directories that come from one package into one link'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand swap" -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand swap" -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand swap" -s h -l help -d 'Print help'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand list" -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand list" -l config-dir -d 'Host configuration; the host\'s roles are the entries of <config-dir>/roles/. If <config-dir>/manual_host_users exists, package users are never created: a missing one refuses the set' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand list" -l systemd-dir -d 'Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand list" -l state-dir-root -d 'Parent of the packages\' state directories (<state-dir-root>/<name>)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand list" -l user-db-root -d 'Root of the user database (etc/passwd, etc/group) that package users are checked against and created in: with `/`, by `useradd`; with any other root (a temp root or an image), pkg-activate appends the entries itself, so no root privilege is needed. State directories are chowned to the package user only when running as root' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand list" -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand list" -l no-systemd -d 'Do not run systemctl (unit files are still copied)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand list" -l no-fold -d 'Lay out pkgpanda\'s exact per-file farm instead of folding directories that come from one package into one link'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand list" -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand list" -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand list" -s h -l help -d 'Print help'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand active" -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand active" -l config-dir -d 'Host configuration; the host\'s roles are the entries of <config-dir>/roles/. If <config-dir>/manual_host_users exists, package users are never created: a missing one refuses the set' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand active" -l systemd-dir -d 'Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand active" -l state-dir-root -d 'Parent of the packages\' state directories (<state-dir-root>/<name>)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand active" -l user-db-root -d 'Root of the user database (etc/passwd, etc/group) that package users are checked against and created in: with `/`, by `useradd`; with any other root (a temp root or an image), pkg-activate appends the entries itself, so no root privilege is needed. State directories are chowned to the package user only when running as root' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand active" -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand active" -l no-systemd -d 'Do not run systemctl (unit files are still copied)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand active" -l no-fold -d 'Lay out pkgpanda\'s exact per-file farm instead of folding directories that come from one package into one link'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand active" -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand active" -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand active" -s h -l help -d 'Print help'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand status" -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand status" -l config-dir -d 'Host configuration; the host\'s roles are the entries of <config-dir>/roles/. If <config-dir>/manual_host_users exists, package users are never created: a missing one refuses the set' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand status" -l systemd-dir -d 'Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand status" -l state-dir-root -d 'Parent of the packages\' state directories (<state-dir-root>/<name>)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand status" -l user-db-root -d 'Root of the user database (etc/passwd, etc/group) that package users are checked against and created in: with `/`, by `useradd`; with any other root (a temp root or an image), pkg-activate appends the entries itself, so no root privilege is needed. State directories are chowned to the package user only when running as root' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand status" -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand status" -l no-systemd -d 'Do not run systemctl (unit files are still copied)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand status" -l no-fold -d 'Lay out pkgpanda\'s exact per-file farm instead of folding directories that come from one package into one link'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand status" -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand status" -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand rollback" -l to -d 'Generation number to switch to (default: the newest older than current)' -r
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand rollback" -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand rollback" -l config-dir -d 'Host configuration; the host\'s roles are the entries of <config-dir>/roles/. If <config-dir>/manual_host_users exists, package users are never created: a missing one refuses the set' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand rollback" -l systemd-dir -d 'Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand rollback" -l state-dir-root -d 'Parent of the packages\' state directories (<state-dir-root>/<name>)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand rollback" -l user-db-root -d 'Root of the user database (etc/passwd, etc/group) that package users are checked against and created in: with `/`, by `useradd`; with any other root (a temp root or an image), pkg-activate appends the entries itself, so no root privilege is needed. State directories are chowned to the package user only when running as root' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand rollback" -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand rollback" -l no-systemd -d 'Do not run systemctl (unit files are still copied)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand rollback" -l no-fold -d 'Lay out pkgpanda\'s exact per-file farm instead of folding directories that come from one package into one link'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand rollback" -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand rollback" -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand rollback" -s h -l help -d 'Print help'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand gc" -l keep -d 'Generations to keep, newest first' -r
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand gc" -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand gc" -l config-dir -d 'Host configuration; the host\'s roles are the entries of <config-dir>/roles/. If <config-dir>/manual_host_users exists, package users are never created: a missing one refuses the set' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand gc" -l systemd-dir -d 'Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand gc" -l state-dir-root -d 'Parent of the packages\' state directories (<state-dir-root>/<name>)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand gc" -l user-db-root -d 'Root of the user database (etc/passwd, etc/group) that package users are checked against and created in: with `/`, by `useradd`; with any other root (a temp root or an image), pkg-activate appends the entries itself, so no root privilege is needed. State directories are chowned to the package user only when running as root' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand gc" -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand gc" -l no-systemd -d 'Do not run systemctl (unit files are still copied)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand gc" -l no-fold -d 'Lay out pkgpanda\'s exact per-file farm instead of folding directories that come from one package into one link'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand gc" -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand gc" -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand gc" -s h -l help -d 'Print help'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand recover" -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand recover" -l config-dir -d 'Host configuration; the host\'s roles are the entries of <config-dir>/roles/. If <config-dir>/manual_host_users exists, package users are never created: a missing one refuses the set' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand recover" -l systemd-dir -d 'Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand recover" -l state-dir-root -d 'Parent of the packages\' state directories (<state-dir-root>/<name>)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand recover" -l user-db-root -d 'Root of the user database (etc/passwd, etc/group) that package users are checked against and created in: with `/`, by `useradd`; with any other root (a temp root or an image), pkg-activate appends the entries itself, so no root privilege is needed. State directories are chowned to the package user only when running as root' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand recover" -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand recover" -l no-systemd -d 'Do not run systemctl (unit files are still copied)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand recover" -l no-fold -d 'Lay out pkgpanda\'s exact per-file farm instead of folding directories that come from one package into one link'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand recover" -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand recover" -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand recover" -s h -l help -d 'Print help'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand check" -l timeout -d 'Seconds a check may run; then its whole process group is killed and it counts as failed' -r
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand check" -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand check" -l config-dir -d 'Host configuration; the host\'s roles are the entries of <config-dir>/roles/. If <config-dir>/manual_host_users exists, package users are never created: a missing one refuses the set' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand check" -l systemd-dir -d 'Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand check" -l state-dir-root -d 'Parent of the packages\' state directories (<state-dir-root>/<name>)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand check" -l user-db-root -d 'Root of the user database (etc/passwd, etc/group) that package users are checked against and created in: with `/`, by `useradd`; with any other root (a temp root or an image), pkg-activate appends the entries itself, so no root privilege is needed. State directories are chowned to the package user only when running as root' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand check" -l list -d 'Only list the checks'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand check" -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand check" -l no-systemd -d 'Do not run systemctl (unit files are still copied)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand check" -l no-fold -d 'Lay out pkgpanda\'s exact per-file farm instead of folding directories that come from one package into one link'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand check" -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand check" -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand check" -s h -l help -d 'Print help'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand remove" -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand remove" -l config-dir -d 'Host configuration; the host\'s roles are the entries of <config-dir>/roles/. If <config-dir>/manual_host_users exists, package users are never created: a missing one refuses the set' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand remove" -l systemd-dir -d 'Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand remove" -l state-dir-root -d 'Parent of the packages\' state directories (<state-dir-root>/<name>)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand remove" -l user-db-root -d 'Root of the user database (etc/passwd, etc/group) that package users are checked against and created in: with `/`, by `useradd`; with any other root (a temp root or an image), pkg-activate appends the entries itself, so no root privilege is needed. State directories are chowned to the package user only when running as root' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand remove" -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand remove" -l no-systemd -d 'Do not run systemctl (unit files are still copied)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand remove" -l no-fold -d 'Lay out pkgpanda\'s exact per-file farm instead of folding directories that come from one package into one link'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand remove" -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand remove" -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand remove" -s h -l help -d 'Print help'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand uninstall" -l tools-dir -d 'Where dcos_install.sh put the host tools (its TARMAC_TOOLS_DIR)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand uninstall" -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand uninstall" -l config-dir -d 'Host configuration; the host\'s roles are the entries of <config-dir>/roles/. If <config-dir>/manual_host_users exists, package users are never created: a missing one refuses the set' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand uninstall" -l systemd-dir -d 'Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand uninstall" -l state-dir-root -d 'Parent of the packages\' state directories (<state-dir-root>/<name>)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand uninstall" -l user-db-root -d 'Root of the user database (etc/passwd, etc/group) that package users are checked against and created in: with `/`, by `useradd`; with any other root (a temp root or an image), pkg-activate appends the entries itself, so no root privilege is needed. State directories are chowned to the package user only when running as root' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand uninstall" -l purge -d 'Also remove what dcos_install.sh wrote outside the root: CONFIG_DIR/roles, CONFIG_DIR/setup-flags and the tools dir'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand uninstall" -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand uninstall" -l no-systemd -d 'Do not run systemctl (unit files are still copied)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand uninstall" -l no-fold -d 'Lay out pkgpanda\'s exact per-file farm instead of folding directories that come from one package into one link'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand uninstall" -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand uninstall" -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand uninstall" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand verify" -l root -d 'Install root: packages/, generations/, `current` and the host lock (ROOT/.lock)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand verify" -l config-dir -d 'Host configuration; the host\'s roles are the entries of <config-dir>/roles/. If <config-dir>/manual_host_users exists, package users are never created: a missing one refuses the set' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand verify" -l systemd-dir -d 'Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand verify" -l state-dir-root -d 'Parent of the packages\' state directories (<state-dir-root>/<name>)' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand verify" -l user-db-root -d 'Root of the user database (etc/passwd, etc/group) that package users are checked against and created in: with `/`, by `useradd`; with any other root (a temp root or an image), pkg-activate appends the entries itself, so no root privilege is needed. State directories are chowned to the package user only when running as root' -r -F
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand verify" -l wait -d 'Wait for the host lock, held by another pkg-activate or host-extract, instead of failing with exit 5'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand verify" -l no-systemd -d 'Do not run systemctl (unit files are still copied)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand verify" -l no-fold -d 'Lay out pkgpanda\'s exact per-file farm instead of folding directories that come from one package into one link'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand verify" -l json -d 'Print one JSON document on stdout (docs/json.md) instead of lines; no progress'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand verify" -s q -l quiet -d 'No progress on stderr. Bars are drawn only when stderr is a terminal; errors and warnings are always printed'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand verify" -s h -l help -d 'Print help'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand help; and not __fish_seen_subcommand_from activate swap list active status rollback gc recover check remove uninstall verify help" -f -a "activate" -d 'Make exactly these package ids active (none: an empty farm). Prints the new generation number'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand help; and not __fish_seen_subcommand_from activate swap list active status rollback gc recover check remove uninstall verify help" -f -a "swap" -d 'Replace the active package of the same name by this id'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand help; and not __fish_seen_subcommand_from activate swap list active status rollback gc recover check remove uninstall verify help" -f -a "list" -d 'List the packages in the repository (<root>/packages/)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand help; and not __fish_seen_subcommand_from activate swap list active status rollback gc recover check remove uninstall verify help" -f -a "active" -d 'Print the active package ids'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand help; and not __fish_seen_subcommand_from activate swap list active status rollback gc recover check remove uninstall verify help" -f -a "status" -d 'Show the current generation, its packages and roles, and its health (every link resolves, files match generation.json, units copied)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand help; and not __fish_seen_subcommand_from activate swap list active status rollback gc recover check remove uninstall verify help" -f -a "rollback" -d 'Switch back to the previous generation (or --to N). Offline'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand help; and not __fish_seen_subcommand_from activate swap list active status rollback gc recover check remove uninstall verify help" -f -a "gc" -d 'Remove old generations (keeping the newest N, current and previous) and every package no remaining generation uses'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand help; and not __fish_seen_subcommand_from activate swap list active status rollback gc recover check remove uninstall verify help" -f -a "recover" -d 'Repair what an interrupted run left (every command does this first)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand help; and not __fish_seen_subcommand_from activate swap list active status rollback gc recover check remove uninstall verify help" -f -a "check" -d 'Run the executables in the active packages\' check/ directories'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand help; and not __fish_seen_subcommand_from activate swap list active status rollback gc recover check remove uninstall verify help" -f -a "remove" -d 'Remove packages from the repository (refused while a generation uses one)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand help; and not __fish_seen_subcommand_from activate swap list active status rollback gc recover check remove uninstall verify help" -f -a "uninstall" -d 'Deactivate everything: remove installed units, generations, packages and links under the root (the lock file stays)'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand help; and not __fish_seen_subcommand_from activate swap list active status rollback gc recover check remove uninstall verify help" -f -a "verify" -d 'Status plus each active package\'s tree hash against host-extract\'s manifest: reports writes that landed inside a package through a folded link. Exit 4 when unhealthy'
complete -c pkg-activate -n "__fish_pkg_activate_using_subcommand help; and not __fish_seen_subcommand_from activate swap list active status rollback gc recover check remove uninstall verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
