# libgreet: sourced by programs that greet.
greet() {
    printf 'Hello, %s!\n' "$1"
}
