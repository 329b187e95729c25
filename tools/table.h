// table.h: the one tabular output of the analyses (trial tables, per-unit fits, summaries): rows
// of numbers and strings under named columns, written as CSV or as JSON ({"columns": [...],
// "data": [[...], ...]}, pandas' orient="split"). NaN and infinities are empty cells in CSV and
// null in JSON; strings are quoted where needed. Files are written atomically (am_write_file_atomic).
#ifndef ANIMAT_TABLE_H
#define ANIMAT_TABLE_H

#include <stddef.h>

#include "am_sim.h"

typedef struct table {
  int ncol;
  char** cols;
  am_buf cells;   // per cell: a type byte ('n' number, 's' string) and NUL-terminated text
  long rows, in_row;  // in_row: cells given in the current row
  int oom;
} table;

// Starts a table with ncol column names (copied). Returns 0 or -1 (out of memory).
int table_init(table* t, int ncol, const char* const* names);
void table_free(table* t);
// Appends a cell to the current row; the row ends after ncol cells.
void table_num(table* t, double v);   // %.9g; NaN/Inf: missing
void table_int(table* t, long long v);
void table_str(table* t, const char* s);
// Writes the table to path: JSON when path ends in ".json", else CSV. Returns 0 or -1 with a
// message (a row left unfinished is an error).
int table_write(const table* t, const char* path, char* err, size_t err_sz);
// Appends s as a JSON string (quoted, escaped). Returns 0 or -1 (out of memory).
int table_json_string(am_buf* out, const char* s);
// Appends v as a JSON number: the shortest of %.15g / %.17g that reads back exactly; null for
// NaN and infinities. Returns 0 or -1 (out of memory).
int table_json_number(am_buf* out, double v);
// The same text into a buffer (json: 0 CSV, 1 JSON).
int table_render(const table* t, int json, am_buf* out);

#endif
