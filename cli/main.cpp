#include "cli/fab_main.h"

int main(int argc, char** argv) { return fab::cli::fab_main(argc, argv); }
