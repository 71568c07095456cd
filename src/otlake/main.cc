// otlake: one binary for the server and the CLI. See `otlake --help`.
#include "otlake/cli/cli.h"

int main(int argc, char** argv) { return otlake::cli::Main(argc, argv); }
