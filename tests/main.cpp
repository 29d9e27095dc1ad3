// main.cpp — the test runner: doctest, plus the plain summary line CI reads.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

namespace {

// Prints "N passed, N failed" (test cases) after doctest's own summary.
struct SummaryLine : doctest::IReporter {
  explicit SummaryLine(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    unsigned run = stats.numTestCasesPassingFilters, failed = stats.numTestCasesFailed;
    std::printf("%u passed, %u failed\n", run - failed, failed);
    std::fflush(stdout);
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("summary_line", 1, SummaryLine);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  return context.run();
}
