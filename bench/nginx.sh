# shellcheck shell=bash
# Sourced by the bench scripts. `serve_dir DIR ROOT` starts nginx on a free
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
