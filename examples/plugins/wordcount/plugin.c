// wordcount: the C example, `wc` for a text. A WASI reactor compiled with clang and run in the wasm tier (Extism
// ABI). extism.h is the header `plugbay new --lang c` ships (packages/plugbay/templates/c/extism.h; the build
// passes its directory with -I). Built by `npm run build` (scripts/build-examples.mjs) into plugin.wasm.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "extism.h"

static int32_t fail(const char *msg) {
  extism_error_set(extism_alloc_buf(msg, strlen(msg)));
  return 1;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool hex4(const char *s, const char *end, uint32_t *out) {
  if (end - s < 4) return false;
  *out = 0;
  for (int i = 0; i < 4; i++) {
    int d = hex_digit(s[i]);
    if (d < 0) return false;
    *out = *out << 4 | (uint32_t)d;
  }
  return true;
}

static size_t put_utf8(char *out, uint32_t cp) {
  if (cp < 0x80) return out[0] = (char)cp, 1;
  if (cp < 0x800) return out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f)), 2;
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | (cp >> 6 & 0x3f)), out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | cp >> 18), out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
  out[2] = (char)(0x80 | (cp >> 6 & 0x3f)), out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

// Decodes the JSON string literal in[0..n) (quotes included) into out (at most n bytes: escapes only shrink).
// Returns the decoded length, or -1 when it is not a JSON string.
static long json_string(const char *in, size_t n, char *out) {
  if (n < 2 || in[0] != '"' || in[n - 1] != '"') return -1;
  const char *s = in + 1, *end = in + n - 1;
  size_t len = 0;
  while (s < end) {
    if (*s != '\\') {
      out[len++] = *s++;
      continue;
    }
    if (++s == end) return -1;
    char e = *s++;
    switch (e) {
      case 'n': out[len++] = '\n'; break;
      case 't': out[len++] = '\t'; break;
      case 'r': out[len++] = '\r'; break;
      case 'b': out[len++] = '\b'; break;
      case 'f': out[len++] = '\f'; break;
      case 'u': {
        uint32_t cp, low;
        if (!hex4(s, end, &cp)) return -1;
        s += 4;
        if (cp >= 0xd800 && cp < 0xdc00) {  // a surrogate pair: \uD83D\uDE00
          if (end - s < 6 || s[0] != '\\' || s[1] != 'u' || !hex4(s + 2, end, &low)) return -1;
          s += 6;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        len += put_utf8(out + len, cp);
        break;
      }
      default: out[len++] = e;  // \" \\ \/
    }
  }
  return (long)len;
}

static bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Input: a text as a JSON string. Output: {"lines","words","chars","bytes"} as `wc` counts them (lines are
// newlines; words are runs of non-space; chars are UTF-8 code points).
EXTISM_EXPORT("count") int32_t count(void) {
  size_t n = (size_t)extism_input_length();
  char *in = malloc(n + 1), *text = malloc(n + 1);
  if (in == NULL || text == NULL) return fail("out of memory");
  extism_load(extism_input_offset(), in, n);
  long len = json_string(in, n, text);
  free(in);
  if (len < 0) {
    free(text);
    return fail("input must be a JSON string");
  }
  unsigned long lines = 0, words = 0, chars = 0;
  bool in_word = false;
  for (long i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c == '\n') lines++;
    if ((c & 0xc0) != 0x80) chars++;  // not a UTF-8 continuation byte
    if (is_space(c)) in_word = false;
    else if (!in_word) in_word = true, words++;
  }
  free(text);
  char out[128];
  int size = snprintf(out, sizeof out, "{\"lines\":%lu,\"words\":%lu,\"chars\":%lu,\"bytes\":%ld}", lines, words,
                      chars, len);
  extism_output_set(extism_alloc_buf(out, (size_t)size), (uint64_t)size);
  return 0;
}
