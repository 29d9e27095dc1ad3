# attn — tensors, autograd and attention from scratch in C++20.
#
#   make              library + tutorials (release build in build/)
#   make test         build and run every test; ends with "N passed, N failed"
#   make unit-test    the unit tests only (no tutorial runs)
#   make run          the main job: tutorial 12_train_transformer with its defaults
#   make tutorials    build every tutorial into build/tutorials/
#   make clean        remove build/
# Variables:
#   BUILD=debug       -O0 -g3 build in build/debug/ (for gdb)
#   SAN=1             AddressSanitizer + UndefinedBehaviorSanitizer build in build/san/
#   CUDA=1            also build the CUDA backend with nvcc (see cuda/)
#   MARCH=...         target CPU for the compiler (default: native)

BUILD ?= release
SAN ?= 0
CUDA ?= 0
MARCH ?= native

ifeq ($(SAN),1)
  BUILD_DIR := build/san
  OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LINK_SAN := -fsanitize=address,undefined
else ifeq ($(BUILD),debug)
  BUILD_DIR := build/debug
  OPT := -O0 -g3
else
  BUILD_DIR := build
  OPT := -O2 -g1
endif

CXXFLAGS := -std=c++20 -Wall -Wextra -march=$(MARCH) -fopenmp $(OPT) -I. -MMD -MP
LDFLAGS := -fopenmp $(LINK_SAN)
LDLIBS := -lm

LIB_DIRS := tensor tensor/cpu autograd nn viz
LIB_SRCS := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.cpp))
LIB_OBJS := $(LIB_SRCS:%.cpp=$(BUILD_DIR)/obj/%.o)
LIB := $(BUILD_DIR)/libattn.a

TUTORIAL_SRCS := $(wildcard tutorials/*.cpp)
TUTORIALS := $(TUTORIAL_SRCS:tutorials/%.cpp=$(BUILD_DIR)/tutorials/%)
TUTORIAL_COMMON_SRCS := $(wildcard tutorials/common/*.cpp)
TUTORIAL_COMMON_OBJS := $(TUTORIAL_COMMON_SRCS:%.cpp=$(BUILD_DIR)/obj/%.o)

TEST_SRCS := $(wildcard tests/*.cpp tests/*/*.cpp)
TEST_OBJS := $(TEST_SRCS:%.cpp=$(BUILD_DIR)/obj/%.o)
TEST_BIN := $(BUILD_DIR)/tests/run_tests

.PHONY: all lib tutorials test unit-test run clean deps
.SECONDARY:
all: lib tutorials

lib: $(LIB)
tutorials: $(TUTORIALS)

# Installs missing Debian packages (or says how); runs before anything compiles.
deps:
	@tools/ensure_deps.sh

$(BUILD_DIR)/obj/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(BUILD_DIR)/tutorials/%: $(BUILD_DIR)/obj/tutorials/%.o $(TUTORIAL_COMMON_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(TEST_BIN): $(TEST_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# The test binary runs the unit tests and then smoke-runs each tutorial with --quick.
test: $(TEST_BIN) $(TUTORIALS)
	@ATTN_TUTORIAL_DIR=$(BUILD_DIR)/tutorials $(TEST_BIN)

# Only the unit tests (no tutorial runs): what CI runs under the sanitizers.
unit-test: $(TEST_BIN)
	@$(TEST_BIN) --test-suite-exclude=tutorials

run: $(BUILD_DIR)/tutorials/01_autograd
	$(BUILD_DIR)/tutorials/01_autograd

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(TUTORIAL_SRCS:tutorials/%.cpp=$(BUILD_DIR)/obj/tutorials/%.d) $(TUTORIAL_COMMON_OBJS:.o=.d)
