# Defaults of the tarmac cookbook: DC/OS's paths. The pinned values
# (bootstrap_id, bundle_blake3, bundle_ids, cluster_ids, tools,
# ip_detect_sha256) come from the
# "Pinned by cfg-gen" block of the serve tree's dcos_install.sh.
default['tarmac']['bootstrap_url'] = 'http://bootstrap.example:8080'
# Mirrors of the serve tree, tried in order before bootstrap_url.
default['tarmac']['mirrors'] = []
# PACKAGE_PINS as a list of "ID=TREEHASH": host-extract --pin for each.
default['tarmac']['package_pins'] = []
default['tarmac']['bootstrap_id'] = ''
default['tarmac']['bundle_blake3'] = ''
default['tarmac']['bundle_ids'] = []
default['tarmac']['cluster_ids'] = []
# TOOLS as a hash (tool => sha256) and IP_DETECT_SHA256: the host tools
# and the cluster's ip-detect script are downloaded into bin and checked.
default['tarmac']['tools'] = {}
default['tarmac']['ip_detect_sha256'] = ''
default['tarmac']['roles'] = ['slave']
default['tarmac']['bin'] = '/var/lib/tarmac/bin'
# The ip-detect script to run: the downloaded one unless set.
default['tarmac']['ip_detect'] = '/var/lib/tarmac/bin/ip-detect'
default['tarmac']['ip_detect_args'] = ''
default['tarmac']['root'] = '/opt/mesosphere'
default['tarmac']['config_dir'] = '/etc/mesosphere'
default['tarmac']['systemd_dir'] = '/etc/systemd/system'
default['tarmac']['state_dir_root'] = '/var/lib/dcos'
default['tarmac']['user_db_root'] = '/'
# e.g. '--no-systemd' on a host (or test root) without systemd.
default['tarmac']['activate_flags'] = ''
