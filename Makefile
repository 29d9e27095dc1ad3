# attn — tensors, autograd and attention from scratch in C++20.
#
#   make              library + tutorials (release build in build/)
#   make test         build and run every test; ends with "N passed, N failed"
#   make unit-test    the unit tests only (no tutorial runs)
#   make cuda-test    the CUDA kernel tests only (tests/cuda/, on cuda-sim; with CUDA=1 also cuda)
#   make run          the main job: tutorial 12_train_transformer with its defaults
#   make exercise NAME=softmax   check one interview exercise (tutorials/exercises/README.md)
#   make exercises    check every exercise and list the ones done
#   make tutorials    build every tutorial into build/tutorials/
#   make bench        benchmarks against PyTorch and NumPy (bench/; writes out/bench.json)
#                     BENCH_FLAGS="--quick --no-python": our rows alone in seconds, as CI runs it
#   make debug        library + tutorials built -O0 -g3 into build/debug/ (for gdb)
#   make debug-tutorial NAME=20_debugging_gradients   one tutorial + the library, -O0 -g3
#   make fuzz         fuzz the .npy and safetensors readers (clang++ libFuzzer; FUZZ_SECONDS=60 each)
#   make clean        remove build/
# Variables:
#   BUILD=debug       -O0 -g3 build in build/debug/ (for gdb)
#   SAN=1             AddressSanitizer + UndefinedBehaviorSanitizer build in build/san/
#   CUDA=1            also build the CUDA backend with nvcc, into build/cuda/ (see cuda/README.md);
#                     CUDA_HOME=/usr/local/cuda by default, CUBLAS=0 to leave cuBLAS out
#   MARCH=...         target CPU for the compiler (default: native)

# Every core by default: a learner's first `make run` compiles the library on all of them.
# An explicit -jN (CI uses -j2) or -j1 on the command line still wins.
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)

BUILD ?= release
SAN ?= 0
CUDA ?= 0
MARCH ?= native

ifeq ($(SAN),1)
  BUILD_DIR := build/san
  OPT := -O1 -g1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LINK_SAN := -fsanitize=address,undefined
else ifeq ($(BUILD),debug)
  BUILD_DIR := build/debug
  OPT := -O0 -g3
else
  BUILD_DIR := build
  OPT := -O2 -g1
endif

# CUDA=1: the GPU backend, cuda/*.cu, compiled by nvcc and linked with the CUDA runtime (and
# cuBLAS unless CUBLAS=0). Its library and programs differ from a CPU-only build's, so they go
# to folders of their own (build/cuda, build/debug-cuda), with the .cu objects. The .cpp objects
# are the same in both builds (nvcc's flags touch only .cu files), so a CUDA=1 build shares the
# CPU-only build's (OBJ): CI builds both, and each .cpp file compiles once.
# The CPU-only build never needs nvcc; the cuda-sim device (cuda/sim/) is in every build.
OBJ := $(BUILD_DIR)/obj

ifeq ($(CUDA),1)
  BUILD_DIR := $(if $(filter build,$(BUILD_DIR)),build/cuda,$(BUILD_DIR)-cuda)
  CUDA_HOME ?= $(or $(patsubst %/bin/nvcc,%,$(shell command -v nvcc 2>/dev/null)),/usr/local/cuda)
  NVCC ?= $(CUDA_HOME)/bin/nvcc
  ifeq ($(wildcard $(NVCC)),)
    $(error CUDA=1: no nvcc at $(NVCC); install the CUDA Toolkit or set CUDA_HOME=/path/to/cuda)
  endif
  CUBLAS ?= 1
  # Machine code for Ampere (sm_80) and Hopper (sm_90), plus PTX that newer GPUs compile at load.
  CUDA_ARCH := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
               -gencode arch=compute_90,code=compute_90
  NVCC_OPT := $(if $(filter debug,$(BUILD)),-O0 -g -lineinfo,-O2 -g -lineinfo)
  NVCCFLAGS := -std=c++20 $(CUDA_ARCH) $(NVCC_OPT) -I. -MMD -MP -Xcompiler -Wall,-Wextra
  CUDA_LDLIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart
  ifeq ($(CUBLAS),1)
    NVCCFLAGS += -DATTN_HAVE_CUBLAS
    CUDA_LDLIBS += -lcublas
  endif
endif

CXXFLAGS := -std=c++20 -Wall -Wextra -march=$(MARCH) -fopenmp $(OPT) -I. -MMD -MP
LDFLAGS := -fopenmp $(LINK_SAN)
LDLIBS := -lm

LIB_DIRS := tensor tensor/cpu autograd nn viz cuda cuda/sim
LIB_SRCS := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.cpp))
# UNITY=1 (the default): the library compiles as one translation unit per folder
# (build/obj/unity/nn.cpp is a list of #include "nn/....cpp"), because parsing the same headers in
# each of ~50 files was half of a first build. Error messages and gdb still name the real files
# and lines. UNITY=0 compiles file by file (quicker when you edit one library file again and again).
UNITY ?= 1
UNITY_SRCS := $(foreach d,$(LIB_DIRS),$(OBJ)/unity/$(subst /,_,$(d)).cpp)
ifeq ($(UNITY),1)
  LIB_OBJS := $(UNITY_SRCS:.cpp=.o)
else
  LIB_OBJS := $(LIB_SRCS:%.cpp=$(OBJ)/%.o)
endif
# llm/ (what is done with a trained language model: sampling and beam search, the BPE tokenizer,
# LoRA adapters, mixed-precision training) is an archive of its own, libattn_llm.a, linked only
# by the programs whose source includes an llm/ header, the tests and the bench: `make run`
# never compiles it.
LLM_SRCS := $(wildcard llm/*.cpp)
ifneq ($(LLM_SRCS),)
  LLM_LIB := $(BUILD_DIR)/libattn_llm.a
  UNITY_SRCS += $(OBJ)/unity/llm.cpp
  LLM_OBJS := $(if $(filter 1,$(UNITY)),$(OBJ)/unity/llm.o,$(LLM_SRCS:%.cpp=$(OBJ)/%.o))
endif
# The llm archive for a program whose source ($(1)) includes an llm/ header, else nothing.
llm_lib_for = $(if $(LLM_LIB),$(if $(shell grep -l '^\#include "llm/' $(1) 2>/dev/null),$(LLM_LIB)))
ifeq ($(CUDA),1)
  LIB_OBJS += $(patsubst %.cu,$(BUILD_DIR)/obj/%.o,$(wildcard cuda/*.cu))
  LDLIBS += $(CUDA_LDLIBS)
endif
LIB := $(BUILD_DIR)/libattn.a

TUTORIAL_SRCS := $(wildcard tutorials/*.cpp)
TUTORIALS := $(TUTORIAL_SRCS:tutorials/%.cpp=$(BUILD_DIR)/tutorials/%)
TUTORIAL_COMMON_SRCS := $(wildcard tutorials/common/*.cpp)
TUTORIAL_COMMON_OBJS := $(TUTORIAL_COMMON_SRCS:%.cpp=$(OBJ)/%.o)

TEST_SRCS := $(wildcard tests/*.cpp tests/*/*.cpp)
# The sanitizer build leaves out the test files that sanitizer-test does not run (the exercises,
# the gdb sessions, the bad-flag table): they test behaviour, in `make test`.
ifeq ($(SAN),1)
  TEST_SRCS := $(filter-out tests/exercises/% tests/gdb/% tests/tutorials/test_bad_flags.cpp,$(TEST_SRCS))
endif
TEST_OBJS := $(TEST_SRCS:%.cpp=$(OBJ)/%.o)
# The sanitizer build compiles the tests as one translation unit per folder (as UNITY=1 does the
# library; build/san/obj/unity/tests/nn.cpp lists tests/nn/*.cpp): instrumenting doctest and the
# library headers once per folder instead of once per file takes 40% less compile time, and CI
# waits for this build. So no two test files of one folder may define the same name at file
# scope, not even in an anonymous namespace: shared helpers live in tests/helpers.hpp.
ifeq ($(SAN),1)
  TEST_FOLDER_SRCS := $(filter $(wildcard tests/*/*.cpp),$(TEST_SRCS))
  TEST_UNITY_DIRS := $(sort $(patsubst %/,%,$(dir $(TEST_FOLDER_SRCS))))
  TEST_UNITY_SRCS := $(TEST_UNITY_DIRS:%=$(OBJ)/unity/%.cpp)
  TEST_OBJS := $(patsubst %.cpp,$(OBJ)/%.o,$(filter-out $(TEST_FOLDER_SRCS),$(TEST_SRCS))) \
               $(TEST_UNITY_SRCS:.cpp=.o)
endif
TEST_BIN := $(BUILD_DIR)/tests/run_tests

.PHONY: all lib tutorials test unit-test sanitizer-test san-tutorials cuda-test run clean deps debug
.SECONDARY:
all: lib tutorials

lib: $(LIB) $(LLM_LIB)
tutorials: $(TUTORIALS)

# Installs missing Debian packages (or says how); runs before anything compiles.
deps:
	@tools/ensure_deps.sh

$(OBJ)/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# A folder's unity source, rewritten only when the folder's list of .cpp files changes (through a
# temporary file of this shell's own, since two makes may share the folder: CI's background builds).
.PHONY: FORCE
$(UNITY_SRCS): $(OBJ)/unity/%.cpp: FORCE
	@mkdir -p $(dir $@)
	@tmp=$@.$$$$.tmp; printf '#include "%s"\n' $(wildcard $(subst _,/,$*)/*.cpp) > $$tmp; \
	  if cmp -s $$tmp $@; then rm -f $$tmp; else mv $$tmp $@; fi
# -Wno-subobject-linkage: gcc warns when a type from an anonymous namespace is used in a class of
# an *included* file, which every .cpp is in a unity source; compiled on its own, none warns.
$(UNITY_SRCS:.cpp=.o): %.o: %.cpp | deps
	$(CXX) $(CXXFLAGS) -Wno-subobject-linkage -c $< -o $@
ifeq ($(SAN),1)
$(TEST_UNITY_SRCS): $(OBJ)/unity/%.cpp: FORCE
	@mkdir -p $(dir $@)
	@tmp=$@.$$$$.tmp; printf '#include "%s"\n' $(filter $*/%,$(TEST_SRCS)) > $$tmp; \
	  if cmp -s $$tmp $@; then rm -f $$tmp; else mv $$tmp $@; fi
$(TEST_UNITY_SRCS:.cpp=.o): %.o: %.cpp | deps
	$(CXX) $(CXXFLAGS) -Wno-subobject-linkage -c $< -o $@
endif

ifeq ($(CUDA),1)
$(BUILD_DIR)/obj/%.o: %.cu | deps
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@
endif

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

ifneq ($(LLM_LIB),)
$(LLM_LIB): $(LLM_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^
endif

# Programs take libattn.a whole (--whole-archive): the cuda-sim and cuda backends register
# themselves from static initialisers in object files that nothing refers to by name, and a
# linker otherwise copies out of a library only the objects something refers to.
LINK_LIB = $(filter $(LLM_LIB),$^) -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive

# The flag parser (tutorial.cpp, the one file that includes CLI11) runs once per program, so it
# is compiled without optimisation: a third less of a first build's longest tutorial file.
$(OBJ)/tutorials/common/tutorial.o: CXXFLAGS += -O0

# A tutorial links the tutorials/common objects it uses: those of the common headers its source
# includes, and (three levels down) of the common headers that their .hpp and .cpp include. So
# `make run` compiles only what tutorial 12 needs.
common_includes = $(if $(1),$(shell sed -n 's|^\#include "\(tutorials/common/[a-z_]*\)\.hpp".*|\1|p' $(1)))
common_next = $(sort $(foreach h,$(1),$(h) $(call common_includes,$(h).hpp) \
                                            $(call common_includes,$(wildcard $(h).cpp))))
common_objs = $(patsubst %,$(OBJ)/%.o,$(filter $(TUTORIAL_COMMON_SRCS:.cpp=), \
                $(call common_next,$(call common_next,$(call common_next,$(call common_includes,$(1)))))))
.SECONDEXPANSION:
$(BUILD_DIR)/tutorials/%: $(OBJ)/tutorials/%.o $$(call common_objs,tutorials/$$*.cpp) \
    $$(call llm_lib_for,tutorials/$$*.cpp) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $(filter-out $(LIB) $(LLM_LIB),$^) $(LINK_LIB) -o $@ $(LDLIBS)

# The tests compile at -O1: most of a test file's compile time is generating the code of its
# many assertions, which -O2 makes a third slower, while the work the tests run is in the
# library (-O2). Under the sanitizers at -O0: instrumenting those assertions at -O1 took 40%
# longer (9.4 s against 5.7 s for test_attention.cpp), and the library stays at -O1.
ifeq ($(SAN),1)
$(TEST_OBJS): CXXFLAGS += -O0
else
$(TEST_OBJS): CXXFLAGS += -O1
endif

$(TEST_BIN): $(TEST_OBJS) $(LLM_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $(filter-out $(LIB) $(LLM_LIB),$^) $(LINK_LIB) -o $@ $(LDLIBS)

# The CUDA tests alone (tests/cuda/: the kernels on cuda-sim, and on cuda when a GPU is there).
# CI runs `make CUDA=1 cuda-test` after the nvcc build; without a GPU they check that cuda fails
# with a clear message.
CUDA_TEST_BIN := $(BUILD_DIR)/tests/run_cuda_tests
CUDA_TEST_OBJS := $(patsubst %.cpp,$(OBJ)/%.o,tests/main.cpp $(wildcard tests/cuda/*.cpp))

$(CUDA_TEST_BIN): $(CUDA_TEST_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $(filter-out $(LIB),$^) $(LINK_LIB) -o $@ $(LDLIBS)

cuda-test: $(CUDA_TEST_BIN)
	@$(CUDA_TEST_BIN)

# The test binary runs the unit tests and then smoke-runs each tutorial with --quick.
# TEST_ARGS: doctest options for the test binary, e.g. TEST_ARGS='-tc="*softmax*"' (run_tests --help).
test: $(TEST_BIN) $(TUTORIALS)
	@ATTN_TUTORIAL_DIR=$(BUILD_DIR)/tutorials $(TEST_BIN) $(TEST_ARGS)

# What CI runs under the sanitizers (make SAN=1 sanitizer-test): the unit tests and the --quick
# runs of the tutorials in SAN_TUTORIALS: every tutorial that a unit test runs (12, 24, 26, 27:
# checkpoints, text files, bytes, adapters) and 15, whose hand-written attention loops no unit
# test runs; what the others call, the unit tests run under the sanitizers too. With all 29 (and
# the tests at -O1) CI waited 443 s for the sanitizer build and took 1174 s in all; with 8 it
# still took 862-897 s, too close to its 15 minutes. All 29 still run, with --quick and bad
# flags, in `make test`. Left to `make test` as well: the exercises, the bad-flag table and the
# gdb sessions, which test behaviour rather than memory.
SAN_TUTORIALS := 12_train_transformer 15_attention_efficiency 24_tiny_llm 26_bpe 27_lora
SAN_EXCLUDED_TESTS := *rejects a bad value*,*gdb*
san-tutorials: $(SAN_TUTORIALS:%=$(BUILD_DIR)/tutorials/%)
sanitizer-test: $(TEST_BIN) san-tutorials
	@ATTN_TUTORIAL_DIR=$(BUILD_DIR)/tutorials ATTN_TUTORIALS="$(SAN_TUTORIALS)" $(TEST_BIN) \
	  --test-suite-exclude=exercises --test-case-exclude="$(SAN_EXCLUDED_TESTS)" $(TEST_ARGS)

# Only the unit tests (no tutorial runs).
unit-test: $(TEST_BIN)
	@$(TEST_BIN) --test-suite-exclude=tutorials $(TEST_ARGS)

# The -O0 -g3 build for gdb (build/debug/); see "Debugging" in README.md.
debug:
	$(MAKE) BUILD=debug all

# One tutorial and the library at -O0 -g3, nothing else (the quick way to step through one):
#   make debug-tutorial NAME=20_debugging_gradients   ->  build/debug/tutorials/20_debugging_gradients
.PHONY: debug-tutorial debug-tutorial-program
debug-tutorial:
	@if [ -z "$(NAME)" ] || [ ! -f tutorials/$(NAME).cpp ]; then \
	  echo "usage: make debug-tutorial NAME=<tutorial>, one of: $(TUTORIAL_SRCS:tutorials/%.cpp=%)"; \
	  exit 2; fi
	@$(MAKE) --no-print-directory BUILD=debug NAME=$(NAME) debug-tutorial-program
debug-tutorial-program: $(BUILD_DIR)/tutorials/$(NAME)
	@echo "built $<; debug it with: gdb -x tools/gdb/gdbinit --args $<"

# The small program that the gdb session test (tests/gdb/) runs under gdb; that test builds it
# with `make BUILD=debug build/debug/tests/gdb/gdb_tour`.
$(BUILD_DIR)/tests/gdb/%: $(OBJ)/tests/gdb/programs/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $(filter-out $(LIB),$^) $(LINK_LIB) -o $@ $(LDLIBS)
-include $(wildcard $(OBJ)/tests/gdb/programs/*.d)

# The main job: train the default encoder-decoder on the reverse task to >= 99% held-out exact
# match, with progress, pictures and a checkpoint in out/.
run: $(BUILD_DIR)/tutorials/12_train_transformer
	$(BUILD_DIR)/tutorials/12_train_transformer

# ---- exercises: make exercise NAME=softmax -----------------------------------------------------
# The interview exercises (tutorials/exercises/README.md). The learner works in a copy that git
# ignores, tutorials/exercises/workspace/<name>.cpp, made from the pristine stub
# (tutorials/exercises/stubs/<name>.cpp) the first time `make exercise NAME=<name>` runs; that
# command links the copy with its checker (checkers/<name>.cpp) into build/exercises/<name> and
# runs it: PASS, or the first wrong value, the mistake it recognises and a hint.
#   make exercise                    list the exercises
#   make exercise NAME=softmax       make the copy if missing, check it
#   make hint NAME=softmax           the next hint (a nudge first, nearly the answer last)
#   make hint-reset NAME=softmax     start the hints over
#   make exercise-reset NAME=softmax restore the copy from the stub (the old one kept as .bak)
#   make exercises                   check every exercise, say which pass
# The tests never build a learner's copy: they link each checker with the reference solution
# (solutions/, must pass), the stub (stubs/, must fail) and each named wrong answer
# (mistakes/<name>__<mistake>.cpp, must fail naming that mistake).
EXERCISES := $(sort $(basename $(notdir $(wildcard tutorials/exercises/checkers/*.cpp))))
EXERCISE_MISTAKES := $(sort $(basename $(notdir $(wildcard tutorials/exercises/mistakes/*.cpp))))
EXERCISE_WORK := tutorials/exercises/workspace
EXERCISE_DIR := $(BUILD_DIR)/exercises
EXERCISE_OBJ := $(OBJ)/tutorials/exercises
# The checkers work their answers out with plain loops and link no library, so a learner's first
# `make exercise` compiles three small files. Only greedy_step decodes with an nn::Transformer.
EXERCISE_COMMON := $(EXERCISE_OBJ)/exercise_check.o
EXERCISES_WITH_LIB := greedy_step
EXERCISE_TEST_BINS := $(EXERCISES:%=$(EXERCISE_DIR)/solution/%) \
                      $(EXERCISES:%=$(EXERCISE_DIR)/stub/%) \
                      $(EXERCISE_MISTAKES:%=$(EXERCISE_DIR)/mistake/%)
EXERCISE_LINK = $(CXX) $(LDFLAGS) $(filter-out $(LIB),$^) $(if $(filter $(LIB),$^),$(LINK_LIB)) \
                -o $@ $(LDLIBS)

# A stub leaves its parameters unused until its TODO is filled in.
$(EXERCISE_OBJ)/%.o: CXXFLAGS += -Wno-unused-parameter

# The learner's copy, made from the stub when missing. The stub is an order-only prerequisite:
# a newer stub (after a git pull) never overwrites the learner's work.
$(EXERCISES:%=$(EXERCISE_WORK)/%.cpp): $(EXERCISE_WORK)/%.cpp: | tutorials/exercises/stubs/%.cpp
	@mkdir -p $(dir $@)
	@cp tutorials/exercises/stubs/$*.cpp $@
	@echo "made your copy $@ (git ignores it): edit it, then run make exercise NAME=$* again"

$(EXERCISES:%=$(EXERCISE_DIR)/%): $(EXERCISE_DIR)/%: \
    $(EXERCISE_OBJ)/workspace/%.o $(EXERCISE_OBJ)/checkers/%.o $(EXERCISE_COMMON)
	@mkdir -p $(dir $@)
	$(EXERCISE_LINK)
$(EXERCISES:%=$(EXERCISE_DIR)/solution/%): $(EXERCISE_DIR)/solution/%: \
    $(EXERCISE_OBJ)/solutions/%.o $(EXERCISE_OBJ)/checkers/%.o $(EXERCISE_COMMON)
	@mkdir -p $(dir $@)
	$(EXERCISE_LINK)
$(EXERCISES:%=$(EXERCISE_DIR)/stub/%): $(EXERCISE_DIR)/stub/%: \
    $(EXERCISE_OBJ)/stubs/%.o $(EXERCISE_OBJ)/checkers/%.o $(EXERCISE_COMMON)
	@mkdir -p $(dir $@)
	$(EXERCISE_LINK)
# The programs of the exercises whose checker uses the library.
$(foreach name,$(EXERCISES_WITH_LIB),$(eval $(EXERCISE_DIR)/$(name) $(EXERCISE_DIR)/solution/$(name) \
    $(EXERCISE_DIR)/stub/$(name) $(filter $(EXERCISE_DIR)/mistake/$(name)__%,\
    $(EXERCISE_MISTAKES:%=$(EXERCISE_DIR)/mistake/%)): $(LIB)))
# A wrong answer mistakes/<name>__<mistake>.cpp links with the checker of <name>.
$(foreach mistake,$(EXERCISE_MISTAKES),$(eval $(EXERCISE_DIR)/mistake/$(mistake): \
    $(EXERCISE_OBJ)/checkers/$(firstword $(subst __, ,$(mistake))).o))
$(EXERCISE_MISTAKES:%=$(EXERCISE_DIR)/mistake/%): $(EXERCISE_DIR)/mistake/%: \
    $(EXERCISE_OBJ)/mistakes/%.o $(EXERCISE_COMMON)
	@mkdir -p $(dir $@)
	$(EXERCISE_LINK)

# NAME must be one of the exercises for the commands that take one.
exercise_name_ok = $(filter $(NAME),$(EXERCISES))
define exercise_need_name
@if [ -z "$(NAME)" ]; then echo "usage: make $@ NAME=<name>; the exercises: $(EXERCISES)"; exit 2; fi
@if [ -z "$(exercise_name_ok)" ]; then \
  echo "error: make $@: no exercise named '$(NAME)'; the exercises are: $(EXERCISES)"; exit 2; fi
endef

.PHONY: exercise exercises exercise-reset hint hint-reset
# The copy is named as well as the program: with .SECONDARY a missing file that is only an
# intermediate step would not be remade while the program is up to date.
# LANG=py: the exercise in Python, checked by the same checker (exercise-py, in "python twins").
ifeq ($(LANG),py)
exercise: exercise-py
else
exercise: $(if $(exercise_name_ok),$(EXERCISE_WORK)/$(NAME).cpp $(EXERCISE_DIR)/$(NAME))
ifeq ($(NAME),)
	@echo "usage: make exercise NAME=<name>    (make exercises: check them all)"
	@echo "the exercises (tutorials/exercises/, see its README.md):"
	@printf '  %s\n' $(EXERCISES)
else
	$(exercise_need_name)
	@echo "checking your copy $(EXERCISE_WORK)/$(NAME).cpp (stuck? make hint NAME=$(NAME))"
	@$(EXERCISE_DIR)/$(NAME)
endif
endif

exercises:
	@passed=""; todo=""; \
	for name in $(EXERCISES); do \
	  echo "== $$name"; \
	  if $(MAKE) --no-print-directory exercise NAME=$$name; then passed="$$passed $$name"; \
	  else todo="$$todo $$name"; fi; \
	done; \
	echo; echo "exercises: $$(echo $$passed | wc -w) of $(words $(EXERCISES)) pass"; \
	echo "  done:$${passed:- none}"; echo "  to do:$${todo:- none}"; [ -z "$$todo" ]

exercise-reset:
	$(exercise_need_name)
	@mkdir -p $(EXERCISE_WORK)
	@if [ -f $(EXERCISE_WORK)/$(NAME).cpp ]; then \
	   cp $(EXERCISE_WORK)/$(NAME).cpp $(EXERCISE_WORK)/$(NAME).cpp.bak; \
	   echo "your old copy is kept as $(EXERCISE_WORK)/$(NAME).cpp.bak"; fi
	@cp tutorials/exercises/stubs/$(NAME).cpp $(EXERCISE_WORK)/$(NAME).cpp
	@echo "restored $(EXERCISE_WORK)/$(NAME).cpp from stubs/$(NAME).cpp"

hint:
	$(exercise_need_name)
	@sh tutorials/exercises/hint.sh $(NAME)

hint-reset:
	$(exercise_need_name)
	@sh tutorials/exercises/hint.sh --reset $(NAME)

# The tests run the solution, stub and mistake programs (tests/exercises/), found through
# ATTN_EXERCISE_DIR.
test unit-test: $(EXERCISE_TEST_BINS)
test unit-test: export ATTN_EXERCISE_DIR := $(EXERCISE_DIR)

-include $(wildcard $(EXERCISE_OBJ)/*.d $(EXERCISE_OBJ)/*/*.d)

# ---- python twins: make python ---------------------------------------------------------------------
# Each tutorial's answer as written on a whiteboard, in numpy (PyTorch where autograd is the
# question), tutorials/python/NN_name.py, checked against its C++ program: the program runs with
# --quick --save $(BUILD_DIR)/python/NN_name, the twin recomputes the saved outputs from the saved
# inputs and weights and prints the largest difference and PASS or FAIL; then the checks that a
# twin FAILs on a perturbed output, and the Python exercises (stub fails, solution passes, each
# wrong answer in python/mistakes/ is named). tutorials/python/run_twins.sh does it all.
# PYTHON is Debian's python3 (the python3 on PATH may be another one, without numpy); numpy is
# installed when missing (or the command printed); torch is optional and never installed here.
#   make python                          every twin, then "N passed, N failed"
#   make exercise NAME=softmax LANG=py   an exercise in Python: tutorials/exercises/workspace/softmax.py
PYTHON ?= /usr/bin/python3
PYTHON_TWINS := $(sort $(basename $(notdir $(wildcard tutorials/python/[0-9]*.py))))
PY_EXERCISES := $(sort $(basename $(notdir $(wildcard tutorials/exercises/python/stubs/*.py))))
PY_EXERCISE_BINS := $(PY_EXERCISES:%=$(EXERCISE_DIR)/python/%)
.PHONY: python python-deps exercise-py

python-deps:
	@PYTHON=$(PYTHON) sh tutorials/python/ensure_numpy.sh

python: $(PYTHON_TWINS:%=$(BUILD_DIR)/tutorials/%) $(PY_EXERCISE_BINS) | python-deps
	@PY_EXERCISES="$(PY_EXERCISES)" EXERCISE_DIR=$(EXERCISE_DIR) \
	  sh tutorials/python/run_twins.sh $(BUILD_DIR) $(PYTHON) $(PYTHON_TWINS)

# A Python exercise's program: the unchanged C++ checker linked with bridge/<name>.cpp, whose
# exercise function hands the checker's inputs to the learner's Python file as .npy files
# (tutorials/exercises/python/python_bridge.hpp). ATTN_EXERCISE_PY names that file.
$(PY_EXERCISE_BINS): $(EXERCISE_DIR)/python/%: $(EXERCISE_OBJ)/python/bridge/%.o \
    $(EXERCISE_OBJ)/checkers/%.o $(EXERCISE_OBJ)/python/python_bridge.o $(EXERCISE_COMMON)
	@mkdir -p $(dir $@)
	$(EXERCISE_LINK)

# The learner's copy, made from the Python stub when missing (never overwritten, like the .cpp).
$(PY_EXERCISES:%=$(EXERCISE_WORK)/%.py): $(EXERCISE_WORK)/%.py: | tutorials/exercises/python/stubs/%.py
	@mkdir -p $(dir $@)
	@cp tutorials/exercises/python/stubs/$*.py $@
	@echo "made your copy $@ (git ignores it): edit it, then run make exercise NAME=$* LANG=py again"

exercise-py: $(if $(filter $(NAME),$(PY_EXERCISES)),$(EXERCISE_WORK)/$(NAME).py $(EXERCISE_DIR)/python/$(NAME)) | python-deps
ifeq ($(filter $(NAME),$(PY_EXERCISES)),)
	@echo "usage: make exercise NAME=<name> LANG=py; the Python exercises: $(PY_EXERCISES)"
	@[ -z "$(NAME)" ] || { echo "error: make exercise LANG=py: no Python exercise named '$(NAME)'"; exit 2; }
else
	@echo "checking your copy $(EXERCISE_WORK)/$(NAME).py with $(PYTHON) (stuck? make hint NAME=$(NAME))"
	@ATTN_EXERCISE_PY=$(EXERCISE_WORK)/$(NAME).py ATTN_PYTHON=$(PYTHON) $(EXERCISE_DIR)/python/$(NAME)
endif

# The bridges sit one folder deeper than the exercises' include above reaches.
-include $(wildcard $(EXERCISE_OBJ)/python/bridge/*.d)

# Benchmarks: our kernels and models next to PyTorch and NumPy (bench/), table on stdout and
# out/bench.json. Installs the Python side's Debian packages when missing (or shows our figures
# alone); with --no-python it installs nothing and runs our rows alone (CI's smoke test).
#   make bench BENCH_FLAGS="--quick"      flags: --threads N, --runs N, --only NAMES, --with-run,
#                                         --with-tutorials, --no-python, --json PATH,
#                                         --peer-coretype, --peer-capability (bench --help)
# --with-run (the reverse-to-99 row) runs tutorial 12, so it is built first; --with-tutorials
# (tutorials-all-cores-vs-one) runs every tutorial, so they all are.
BENCH_BIN := $(BUILD_DIR)/bench/bench
.PHONY: bench
bench: $(BENCH_BIN) $(if $(findstring --with-run,$(BENCH_FLAGS)),$(BUILD_DIR)/tutorials/12_train_transformer) \
       $(if $(findstring --with-tutorials,$(BENCH_FLAGS)),$(TUTORIALS))
	$(if $(findstring --no-python,$(BENCH_FLAGS)),,@bench/ensure_python_deps.sh)
	$(BENCH_BIN) $(BENCH_FLAGS)

$(BENCH_BIN): $(OBJ)/bench/bench.o $(LLM_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $(filter-out $(LIB) $(LLM_LIB),$^) $(LINK_LIB) -o $@ $(LDLIBS)

-include $(OBJ)/bench/bench.d

clean:
	rm -rf build

# ---- fuzzing: make fuzz [FUZZ_SECONDS=60] ----------------------------------------------------------
# One libFuzzer target per file parser (fuzz/fuzz_npy.cpp, fuzz/fuzz_safetensors.cpp), built with
# clang++ under AddressSanitizer + UBSan from the tensor sources (both readers live in tensor/) into
# build/fuzz/; tools/ensure_fuzz_deps.sh first installs clang and libFuzzer if they are missing.
# Each fuzzer first replays every input it ever failed on (fuzz/regressions/<target>/, kept in the
# repository; each is also a doctest), then starts from valid files written by fuzz/make_seeds.cpp
# and runs FUZZ_SECONDS. A finding stops the run (exit 1) and leaves its input in
# build/fuzz/crash-* (replay: build/fuzz/fuzz_npy build/fuzz/crash-...): add it to
# fuzz/regressions/ with the fix. For CI: make fuzz FUZZ_SECONDS=30 (about 1 min of fuzzing after
# a build of about 3 min on 2 cores).
FUZZ_SECONDS ?= 60
FUZZ_CXX ?= clang++
FUZZ_DIR := build/fuzz
# -Wno-pass-failed: at -O1 under the sanitizers clang cannot vectorise the `omp simd` loops, and
# says so for each; that is expected here (the fuzzers test correctness, not speed).
FUZZ_FLAGS := -std=c++20 -g -O1 -I. -fopenmp -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
              -Wno-pass-failed
# The tensor sources compile as the library's two unity sources (tensor, tensor/cpu), not file by
# file: a third of the time of a first `make fuzz`.
FUZZ_LIB_OBJS := $(FUZZ_DIR)/obj/unity/tensor.o $(FUZZ_DIR)/obj/unity/tensor_cpu.o
FUZZ_TARGETS := npy safetensors

.PHONY: fuzz fuzz-build fuzz-deps
fuzz-deps:
	@tools/ensure_fuzz_deps.sh $(FUZZ_CXX)

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%) $(FUZZ_DIR)/make_seeds

fuzz: fuzz-build
	$(FUZZ_DIR)/make_seeds $(FUZZ_DIR)/seeds
	@for target in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$target; \
	  regressions=$$(ls fuzz/regressions/$$target/* 2>/dev/null); \
	  if [ -n "$$regressions" ]; then \
	    echo "== fuzz_$$target: replaying $$(echo $$regressions | wc -w) regression input(s)"; \
	    OMP_NUM_THREADS=1 $(FUZZ_DIR)/fuzz_$$target $$regressions || exit 1; \
	  fi; \
	  echo "== fuzz_$$target for $(FUZZ_SECONDS) s"; \
	  OMP_NUM_THREADS=1 $(FUZZ_DIR)/fuzz_$$target -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -dict=fuzz/$$target.dict -artifact_prefix=$(FUZZ_DIR)/ \
	    $(FUZZ_DIR)/corpus/$$target $(FUZZ_DIR)/seeds/$$target || exit 1; \
	done

# Library objects get coverage instrumentation (fuzzer-no-link); libFuzzer's main is linked once.
$(FUZZ_DIR)/obj/unity/%.o: $(OBJ)/unity/%.cpp | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c $< -o $@

$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.cpp $(FUZZ_LIB_OBJS) | fuzz-deps
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined $^ -o $@

$(FUZZ_DIR)/make_seeds: fuzz/make_seeds.cpp $(FUZZ_LIB_OBJS) | fuzz-deps
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=address,undefined $^ -o $@

-include $(wildcard $(LIB_OBJS:.o=.d) $(LLM_OBJS:.o=.d)) $(TEST_OBJS:.o=.d) $(TUTORIAL_SRCS:tutorials/%.cpp=$(OBJ)/tutorials/%.d) $(TUTORIAL_COMMON_OBJS:.o=.d) $(FUZZ_LIB_OBJS:.o=.d)
