#define GREET_VERSION "1.0"
