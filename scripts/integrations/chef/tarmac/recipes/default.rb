# tarmac::default: install a cfg-gen serve tree's packages on a host with
# tarmac's host tools, idempotently: on a second chef-client run every
# execute resource's guard holds and nothing runs.
#
# Guards: `creates` (the pinned IP file) or `not_if` with a status query
# that changes nothing (`pkg-activate list`: ids present in the repository;
# `pkg-activate active`: ids active in `current`). Exit codes relied on: 0
# ok; any other exit fails the resource (`retries` re-runs host-extract,
# whose 75 means a transient network failure); --wait avoids exit 5 (host
# lock held). See docs/integrations.md.
#
# tests/integrations.rs runs every command and guard of this file against
# the real tools, so keep to its parse: one `NAME = node['tarmac']['KEY']`
# (optionally `.join(' ')`) or `NAME = "..."` per line, and inside each
# `execute` block one-line `command "..."`, `creates "..."`, `not_if "..."`
# whose strings only interpolate those NAMEs as #{NAME}. (The remote_file,
# directory and file resources are Chef's own; the test does them by hand.)

bin = node['tarmac']['bin']
root = node['tarmac']['root']
config_dir = node['tarmac']['config_dir']
bootstrap_url = node['tarmac']['bootstrap_url']
# Mirrors (a list): tried in order before bootstrap_url, the origin; each
# host-extract call gets every URL (docs/mirrors.md).
mirrors = node['tarmac']['mirrors'].join(' ')
# PACKAGE_PINS ("ID=TREEHASH" strings): host-extract --pin for each.
package_pins = node['tarmac']['package_pins'].join(' ')
bootstrap_id = node['tarmac']['bootstrap_id']
bundle_blake3 = node['tarmac']['bundle_blake3']
bundle_ids = node['tarmac']['bundle_ids'].join(' ')
cluster_ids = node['tarmac']['cluster_ids'].join(' ')
ip_detect = node['tarmac']['ip_detect']
ip_detect_args = node['tarmac']['ip_detect_args']
systemd_dir = node['tarmac']['systemd_dir']
state_dir_root = node['tarmac']['state_dir_root']
user_db_root = node['tarmac']['user_db_root']
activate_flags = node['tarmac']['activate_flags']
pkg_activate = "#{bin}/pkg-activate --root #{root} --config-dir #{config_dir} --systemd-dir #{systemd_dir} --state-dir-root #{state_dir_root} --user-db-root #{user_db_root} --wait #{activate_flags}"

# The host tools and the cluster's ip-detect script, checked against their
# pinned sha256 (remote_file does not fetch a file that already matches),
# from the first URL that serves them: the mirrors, then the origin.
directory bin do
  recursive true
end
node['tarmac']['tools'].each do |tool, sha256|
  remote_file "#{bin}/#{tool}" do
    source(*(node['tarmac']['mirrors'] + [bootstrap_url]).map { |url| "#{url}/bin/#{tool}" })
    checksum sha256
    mode '0755'
  end
end
remote_file "#{bin}/ip-detect" do
  source(*(node['tarmac']['mirrors'] + [bootstrap_url]).map { |url| "#{url}/ip-detect" })
  checksum node['tarmac']['ip_detect_sha256']
  mode '0755'
end

directory config_dir
directory "#{config_dir}/roles"
directory "#{config_dir}/setup-flags"
# The cluster's package set, as dcos_install.sh records it: pkg-activate
# status reports active packages outside it as overrides.
file "#{config_dir}/setup-flags/cluster-package-ids" do
  content (node['tarmac']['bundle_ids'] + node['tarmac']['cluster_ids']).map { |id| "#{id}\n" }.join
  mode '0644'
end
node['tarmac']['roles'].each do |role|
  file "#{config_dir}/roles/#{role}" do
    content ''
  end
end

# ip-detect-run --pin records the address once and never rewrites it.
execute 'tarmac ip-detect' do
  command "#{bin}/ip-detect-run --pin #{config_dir}/setup-flags/detected-ip #{ip_detect_args} #{ip_detect}"
  creates "#{config_dir}/setup-flags/detected-ip"
end

execute 'tarmac extract bundle' do
  command "#{bin}/host-extract --root #{root} --wait $(for url in #{mirrors} #{bootstrap_url}; do printf ' --url %s/bootstrap/#{bootstrap_id}.bootstrap.tar.zst' \"$url\"; done) --blake3 #{bundle_blake3}"
  not_if "test \"$(#{pkg_activate} list | grep -cxF -e $(echo #{bundle_ids} | sed 's/ / -e /g'))\" -eq $(echo #{bundle_ids} | wc -w)"
  retries 3
end

execute 'tarmac extract cluster packages' do
  command "#{bin}/host-extract --root #{root} --wait $(for url in #{mirrors} #{bootstrap_url}; do printf ' --repository %s' \"$url\"; done) $(for pin in #{package_pins}; do printf ' --pin %s' \"$pin\"; done) --package #{cluster_ids}"
  not_if "test \"$(#{pkg_activate} list | grep -cxF -e $(echo #{cluster_ids} | sed 's/ / -e /g'))\" -eq $(echo #{cluster_ids} | wc -w)"
  retries 3
end

execute 'tarmac activate' do
  command "#{pkg_activate} activate #{bundle_ids} #{cluster_ids}"
  not_if "test \"$(#{pkg_activate} active | LC_ALL=C sort)\" = \"$(printf '%s\\n' #{bundle_ids} #{cluster_ids} | LC_ALL=C sort)\""
end
