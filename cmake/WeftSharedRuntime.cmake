# weft's shared objects must use the process's shared C++ runtime
# (libstdc++.so.6, libgcc_s.so.1), never a private static copy.
#
# Why: libweft.so and the Python extension live in processes that load other
# C++ libraries, torch above all, which bring libstdc++.so.6. A static copy
# of libstdc++ inside libweft (what -static-libstdc++ in LDFLAGS, or a
# toolchain that only finds libstdc++.a, silently produces) then runs beside
# the shared one, and the two share state they do not agree on: libstdc++'s
# template statics such as the locale facet ids (std::num_put<char>::id, ...)
# are STB_GNU_UNIQUE symbols, which the dynamic linker unifies process-wide
# even across RTLD_LOCAL libraries, so weft's copy indexes its locales with
# ids assigned by the other runtime. Formatting through ostream then reads the
# wrong facet: garbage output, or a crash. Reproduced by linking with
# -static-libstdc++ -static-libgcc: after `import torch` a communicator's
# address book serialises its port as text that std::stoi cannot parse; on the
# GPU machine (whose libweft.so had no libstdc++ in NEEDED) StoreServer.start()
# segfaulted. Naming the shared runtimes after the objects makes the linker
# resolve every C++ runtime reference to them, whatever static flags the
# environment adds later on the line (tests/python/test_torch_first.py checks
# the result and runs weft after torch).
function(weft_shared_cxx_runtime target)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_SYSTEM_NAME STREQUAL "Linux")
    target_link_libraries(${target} PRIVATE -l:libstdc++.so.6 -l:libgcc_s.so.1)
  endif()
endfunction()
