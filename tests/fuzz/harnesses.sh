#!/usr/bin/env bash
# Prints the names of the harnesses that can be built now (mk/fuzz.mk asks).
# A harness may name the core functions it needs in its header comment
#     fuzz-requires: rr_parser_new rr_profile_normalise
# (the list may go on over the comment's next lines)
# and is left out while any of them is not defined in core/*.c yet (a
# harness written against a header before its sources land).
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
for f in tests/fuzz/fuzz_*.c; do
  name=${f#tests/fuzz/fuzz_}
  name=${name%.c}
  [ "$name" = common ] && continue
  ok=1
  # the names after "fuzz-requires:", up to the end of that comment
  for sym in $(awk '/fuzz-requires:/ { on = 1; sub(/.*fuzz-requires:/, "") }
                    on { line = $0; end = sub(/\*\/.*/, "", line); gsub(/^[ \t]*\*?/, "", line);
                         print line; if (end) exit }' "$f"); do
    if ! grep -qE "^[A-Za-z_][A-Za-z0-9_ *]*[ *]$sym\(" core/*.c 2>/dev/null; then
      ok=0
      break
    fi
  done
  [ $ok = 1 ] && echo "$name"
done
