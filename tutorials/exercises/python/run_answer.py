"""run_answer.py — the Python half of python_bridge.hpp: runs one function of a learner's file.

    python3 run_answer.py ANSWER.py FUNCTION FOLDER

loads FOLDER/arg0.npy, arg1.npy, ... (float32), calls FUNCTION(arg0, arg1, ...) from ANSWER.py
and saves its result as FOLDER/result.npy (float32, C order) for the C++ checker to read.
"""
import importlib.util
import sys

import numpy as np

answer_path, function, folder = sys.argv[1:4]
spec = importlib.util.spec_from_file_location("answer", answer_path)
answer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(answer)
if not hasattr(answer, function):
    sys.exit(f"error: {answer_path} has no function {function}(): keep the stub's signature")
args, i = [], 0
while True:
    try:
        args.append(np.load(f"{folder}/arg{i}.npy"))
    except FileNotFoundError:
        break
    i += 1
result = getattr(answer, function)(*args)
np.save(f"{folder}/result.npy", np.ascontiguousarray(np.asarray(result, dtype=np.float32)))
