#pragma once
// The whole fab command line: parses argv against the verb table, runs the verb, prints errors.
namespace fab::cli {
int fab_main(int argc, char** argv);
}
