# shellcheck shell=bash
# Sourced by the bench scripts (ROOT set: the checkout).

# `serve_dir DIR ROOT` starts nginx on a free
# loopback port serving ROOT (its prefix, config and logs under DIR/nginx,
# no access log), waits until it answers, and sets PORT and NGINX (its
# pid). The caller stops it: kill "$NGINX".
serve_dir() {
    local dir=$1/nginx root=$2
    mkdir -p "$dir"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat > "$dir/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
pid $dir/nginx.pid; error_log $dir/error.log warn;
events { worker_connections 64; }
http { access_log off; sendfile on; default_type application/octet-stream;
  client_body_temp_path $dir/cb; proxy_temp_path $dir/p;
  fastcgi_temp_path $dir/f; uwsgi_temp_path $dir/u; scgi_temp_path $dir/s;
  server { listen 127.0.0.1:$PORT; root $root; location / { } } }
CONF
    /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
    # shellcheck disable=SC2034 # read by the caller
    NGINX=$!
    # Any HTTP answer (even 403 for the directory) means it is up.
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
}

# `make_pkgs TREE SRC PKGS`: a package tree for pkg-build from a generated
# tree (gen-tree.py): each package's files as SRC/<id>.tar (its source),
# and PKGS/<name>/buildinfo.json + build unpacking it.
make_pkgs() {
    local tree=$1 src=$2 pkgs=$3 dir id
    mkdir -p "$src" "$pkgs"
    # Deterministic tarballs (no mtimes, owners or readdir order): the same
    # tree gives the same sources, package ids and bundle bytes in every
    # run, so bundle sizes compare across runs.
    for dir in "$tree"/packages/*; do
        id=$(basename "$dir")
        tar -C "$tree/packages" --exclude "$id/pkginfo.json" --exclude "$id/buildinfo.full.json" \
            --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
            -cf "$src/$id.tar" "$id"
    done
    python3 "${ROOT:?}/bench/tree-to-packages.py" "$tree/packages" "$src" "$pkgs"
}
