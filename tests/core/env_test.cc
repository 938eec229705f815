#include "weft/env.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>

#include "weft/error.h"

namespace weft {
namespace {

TEST(Env, RegistryIsSortedUniqueAndDocumented) {
  const auto& table = env::registry();
  ASSERT_FALSE(table.empty());
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_TRUE(table[i].name.starts_with("WEFT_")) << table[i].name;
    EXPECT_FALSE(table[i].doc.empty()) << table[i].name;
    if (i > 0) {
      EXPECT_LT(table[i - 1].name, table[i].name);
    }
  }
}

TEST(Env, DefaultsAndOverrides) {
  unsetenv("WEFT_TIMEOUT_S");
  EXPECT_EQ(env::get_int("WEFT_TIMEOUT_S"), 600);
  setenv("WEFT_TIMEOUT_S", "2.5", 1);
  EXPECT_EQ(env::get_seconds("WEFT_TIMEOUT_S"), std::chrono::milliseconds(2500));
  setenv("WEFT_TIMEOUT_S", "soon", 1);
  try {
    env::get_double("WEFT_TIMEOUT_S");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(e.message(), "WEFT_TIMEOUT_S=soon is not a number");
  }
  unsetenv("WEFT_TIMEOUT_S");
}

TEST(Env, Booleans) {
  setenv("WEFT_SHM_DISABLE", "yes", 1);
  EXPECT_TRUE(env::get_bool("WEFT_SHM_DISABLE"));
  setenv("WEFT_SHM_DISABLE", "0", 1);
  EXPECT_FALSE(env::get_bool("WEFT_SHM_DISABLE"));
  setenv("WEFT_SHM_DISABLE", "maybe", 1);
  EXPECT_THROW(env::get_bool("WEFT_SHM_DISABLE"), Error);
  unsetenv("WEFT_SHM_DISABLE");
}

TEST(Env, UnregisteredReadIsABug) {
  try {
    env::get("WEFT_NOT_A_THING");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Internal);
  }
}

TEST(Env, MisspelledVariableIsReportedWithSuggestion) {
  setenv("WEFT_DEBGU", "INFO", 1);
  auto unknown = env::unknown_variables();
  unsetenv("WEFT_DEBGU");
  auto it = std::find_if(unknown.begin(), unknown.end(),
                         [](const env::Unknown& u) { return u.name == "WEFT_DEBGU"; });
  ASSERT_NE(it, unknown.end());
  EXPECT_EQ(it->suggestion, "WEFT_DEBUG");
}

}  // namespace
}  // namespace weft
