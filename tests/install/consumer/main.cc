#include <weft/dtype.h>
#include <weft/error.h>
#include <weft/store.h>

#include <cstdio>

// Uses the installed headers and library: an in-process store round trip and
// the error type. Prints "consumer ok" on success.
int main() {
  weft::HashStore store;
  store.set("key", std::string_view("value"));
  if (store.get_string("key") != "value") return 1;
  if (store.add("counter", 5) != 5) return 2;
  try {
    weft::throw_error(weft::ErrorCode::Mismatch, "expected");
  } catch (const weft::Error& e) {
    if (e.code() != weft::ErrorCode::Mismatch) return 3;
  }
  std::printf("consumer ok (%s is %zu bytes)\n", weft::to_string(weft::DataType::bf16),
              weft::size_of(weft::DataType::bf16));
  return 0;
}
