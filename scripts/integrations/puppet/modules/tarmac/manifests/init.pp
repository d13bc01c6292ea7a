# tarmac: install a cfg-gen serve tree's packages on a host with tarmac's
# host tools, idempotently. A second `puppet apply` changes nothing
# (`--detailed-exitcodes`: 2 on the first run, 0 on the second).
#
# Every exec is guarded: `creates` (the pinned IP file) or `unless` with a
# status query that never changes anything (`pkg-activate list`: ids present
# in the repository; `pkg-activate active`: ids active in `current`). Exit
# codes relied on: 0 ok; any other exit fails the resource (`tries` retries
# host-extract, whose 75 means a transient network failure); --wait avoids
# exit 5 (host lock held). See docs/integrations.md.
#
# The pinned values are those of the "Pinned by cfg-gen" block of the serve
# tree's dcos_install.sh: BOOTSTRAP_ID, BUNDLE_BLAKE3, BUNDLE_PACKAGES and
# CLUSTER_PACKAGES (as arrays), TOOLS (as a hash: tool => sha256),
# IP_DETECT_SHA256 and PACKAGE_PINS (as an array of ID=TREEHASH, optional). The host tools and the cluster's ip-detect script are
# downloaded from the serve tree into $bin (from the first URL that serves
# the pinned sha256; a file that already matches is not fetched again).
#
# $mirrors: mirrors of the serve tree (bootstrap_mirrors, or more): every
# download tries them in order, then $bootstrap_url (the origin); each
# host-extract call gets every URL (docs/mirrors.md).
#
#   puppet apply --modulepath scripts/integrations/puppet/modules \
#     -e "class { 'tarmac': bootstrap_url => ..., bootstrap_id => ..., ... }"
class tarmac (
  String        $bootstrap_url,
  String        $bootstrap_id,
  String        $bundle_blake3,
  Array[String] $bundle_ids,
  Array[String] $cluster_ids,
  Hash[String, String] $tools,
  String        $ip_detect_sha256,
  Array[String] $roles           = ['slave'],
  String        $bin             = '/var/lib/tarmac/bin',
  Optional[String] $ip_detect    = undef,
  String        $ip_detect_args  = '',
  String        $root            = '/opt/mesosphere',
  String        $config_dir      = '/etc/mesosphere',
  String        $systemd_dir     = '/etc/systemd/system',
  String        $state_dir_root  = '/var/lib/dcos',
  String        $user_db_root    = '/',
  Boolean       $no_systemd      = false,
  Array[String] $mirrors         = [],
  Array[String] $package_pins    = [],
) {
  # PACKAGE_PINS ("ID=TREEHASH"): host-extract --pin for each.
  $pin_args = join($package_pins.map |$p| { "--pin ${p}" }, ' ')
  $urls = $mirrors + [$bootstrap_url]
  $url_args = join($urls.map |$u| { "--url ${u}/bootstrap/${bootstrap_id}.bootstrap.tar.zst" }, ' ')
  $repository_args = join($urls.map |$u| { "--repository ${u}" }, ' ')
  $no_systemd_flag = $no_systemd ? { true => ' --no-systemd', default => '' }
  $pkg_activate = "${bin}/pkg-activate --root ${root} --config-dir ${config_dir} --systemd-dir ${systemd_dir} --state-dir-root ${state_dir_root} --user-db-root ${user_db_root} --wait${no_systemd_flag}"
  $wanted = sort($bundle_ids + $cluster_ids)
  # The guards use test, grep, sort, paste and sha256sum; downloads curl.
  $path = ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin']

  # Exit 0 when every id of the list is present in <root>/packages
  # (host-extract renames a package into place only once verified).
  $bundle_present = "test \"$(${pkg_activate} list | grep -cxF -e ${join($bundle_ids, ' -e ')})\" -eq ${length($bundle_ids)}"
  $cluster_present = "test \"$(${pkg_activate} list | grep -cxF -e ${join($cluster_ids, ' -e ')})\" -eq ${length($cluster_ids)}"
  # Exit 0 when exactly the wanted ids are active.
  $active_is_wanted = "test \"$(${pkg_activate} active | LC_ALL=C sort | paste -sd' ' -)\" = '${join($wanted, ' ')}'"

  $ip_detect_script = $ip_detect ? { undef => "${bin}/ip-detect", default => $ip_detect }

  file { [$bin, $config_dir, "${config_dir}/roles", "${config_dir}/setup-flags"]:
    ensure => directory,
    mode   => '0755',
  }

  # Tools and ip-detect: from the first URL that serves the pinned sha256
  # (a `file` resource with several http sources fails on the first one
  # that is down instead of trying the next); skipped when the file already
  # has it. fetch PATH DEST SHA256.
  $url_list = join($urls, ' ')
  $fetch = "fetch() { for u in ${url_list}; do curl -fsS --connect-timeout 10 -o \"\$2.tmp\" \"\$u/\$1\" && echo \"\$3  \$2.tmp\" | sha256sum -c --status && chmod 0755 \"\$2.tmp\" && mv -f \"\$2.tmp\" \"\$2\" && return 0; done; rm -f \"\$2.tmp\"; echo \"\$1: no URL served sha256 \$3\" >&2; return 1; }"
  $downloads = $tools.map |String $tool, String $sha256| { ["bin/${tool}", "${bin}/${tool}", $sha256] } + [
    ['ip-detect', "${bin}/ip-detect", $ip_detect_sha256],
  ]
  $downloads.each |Array[String] $download| {
    exec { "tarmac download ${download[0]}":
      command  => "${fetch}; fetch ${download[0]} ${download[1]} ${download[2]}",
      unless   => "echo '${download[2]}  ${download[1]}' | sha256sum -c --status",
      provider => shell,
      path     => $path,
      require  => File[$bin],
      before   => [Exec['tarmac ip-detect'], Exec['tarmac extract bundle'], Exec['tarmac activate']],
    }
  }

  $roles.each |String $role| {
    file { "${config_dir}/roles/${role}":
      ensure  => file,
      content => '',
      mode    => '0644',
      before  => Exec['tarmac activate'],
    }
  }

  # The cluster's package set, as dcos_install.sh records it: pkg-activate
  # status reports active packages outside it as overrides.
  file { "${config_dir}/setup-flags/cluster-package-ids":
    ensure  => file,
    content => "${join($bundle_ids + $cluster_ids, "\n")}\n",
    mode    => '0644',
    require => File["${config_dir}/setup-flags"],
  }

  # ip-detect-run --pin records the address once and never rewrites it.
  exec { 'tarmac ip-detect':
    command => "${bin}/ip-detect-run --pin ${config_dir}/setup-flags/detected-ip ${ip_detect_args} ${ip_detect_script}",
    creates => "${config_dir}/setup-flags/detected-ip",
    path    => $path,
    require => File["${config_dir}/setup-flags"],
  }

  exec { 'tarmac extract bundle':
    command   => "${bin}/host-extract --root ${root} --wait ${url_args} --blake3 ${bundle_blake3}",
    unless    => $bundle_present,
    provider  => shell,
    path      => $path,
    tries     => 3,
    try_sleep => 5,
  }

  exec { 'tarmac extract cluster packages':
    command   => "${bin}/host-extract --root ${root} --wait ${repository_args} ${pin_args} --package ${join($cluster_ids, ' ')}",
    unless    => $cluster_present,
    provider  => shell,
    path      => $path,
    tries     => 3,
    try_sleep => 5,
  }

  exec { 'tarmac activate':
    command  => "${pkg_activate} activate ${join($wanted, ' ')}",
    unless   => $active_is_wanted,
    provider => shell,
    path     => $path,
    require  => [Exec['tarmac extract bundle'], Exec['tarmac extract cluster packages'], Exec['tarmac ip-detect']],
  }
}
