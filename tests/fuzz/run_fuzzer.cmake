# Runs a libFuzzer binary for SECONDS over a fresh copy of the SEEDS folder in WORK/corpus, with
# the dictionary DICT; crashes, leaks and hangs go to WORK/artifacts/ and fail the test.
#   cmake -DFUZZER=... -DSEEDS=... -DDICT=... -DWORK=... -DSECONDS=60 -P run_fuzzer.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/artifacts)
file(COPY ${SEEDS}/ DESTINATION ${WORK}/corpus)
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=10 -dict=${DICT}
          -artifact_prefix=${WORK}/artifacts/ -print_final_stats=1 ${WORK}/corpus
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB found ${WORK}/artifacts/*)
  message(FATAL_ERROR "the fuzzer failed (${rc}); its input: ${found}\n"
                      "reproduce: ${FUZZER} <input>; keep it in tests/fuzz/regressions/ once fixed")
endif()
