// python_bridge.hpp — lets the C++ checkers of the exercises check a learner's Python answer.
//
// `make exercise NAME=softmax LANG=py` links the checker (checkers/softmax.cpp, unchanged) with
// bridge/softmax.cpp instead of a C++ answer. bridge/softmax.cpp defines exercise::softmax by
// calling call_python(): it writes the checker's inputs as .npy files into a fresh temporary
// folder, runs
//     $ATTN_PYTHON tutorials/exercises/python/run_answer.py $ATTN_EXERCISE_PY softmax FOLDER
// which imports the learner's file, calls its function on the arrays and saves what it returns,
// and reads the result back for the checker. So a Python answer gets the same cases, the same
// first-wrong-value message and the same named-mistake diagnoses as a C++ one.
//
// Needs nothing from the library (like the checkers): the .npy code here handles only what the
// bridge writes and run_answer.py saves, C-order little-endian float32 (and bool).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace python_bridge {

struct Array {
  std::vector<std::int64_t> shape;
  std::vector<float> values;  // row-major
  bool boolean = false;       // written as a numpy bool array (a mask: value != 0 is true)
};

// Calls `function` of the learner's Python file ($ATTN_EXERCISE_PY) on `inputs` (positional
// arguments, as numpy float32 arrays, or bool where `boolean`) and returns what it returned (one
// array, float32). Throws std::runtime_error naming the file and the problem: no such file, Python
// failed (its traceback is printed above), or a result of the wrong shape.
Array call_python(const std::string& function, const std::vector<Array>& inputs,
                  const std::vector<std::int64_t>& expected_shape);

}  // namespace python_bridge
