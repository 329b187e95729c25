// svg_test_util.h: reading an SVG figure back in the tests (test_svg.c, test_plot.c): a Python
// snippet run with /usr/bin/python3 over the file parses it with xml.etree (so the file must be
// well-formed XML) and prints what the test compares. Include after <cmocka.h>.
#ifndef SVG_TEST_UTIL_H
#define SVG_TEST_UTIL_H

#include <stdio.h>
#include <string.h>

// Runs `python3 -c CODE PATH` (CODE sees the parsed root as r and the SVG namespace as ns) with
// its output in out (a final newline dropped). Fails the test when Python fails (a parse error).
static void svg_python(const char* code, const char* path, char* out, size_t out_sz) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"import sys, collections, xml.etree.ElementTree as E\n"
           "ns = '{http://www.w3.org/2000/svg}'\n"
           "r = E.parse(sys.argv[1]).getroot()\n%s\" '%s' 2>&1",
           code, path);
  FILE* p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(out, 1, out_sz - 1, p);
  out[n] = 0;
  if (n && out[n - 1] == '\n') out[n - 1] = 0;
  if (pclose(p)) fail_msg("python could not parse %s:\n%s", path, out);
}

#endif  // SVG_TEST_UTIL_H
