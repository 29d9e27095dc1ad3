# attn_printers.py — gdb pretty-printers and commands for this library's tensors and graph nodes.
#
# Load them in a gdb session (from the repository root):
#     (gdb) source tools/gdb/attn_printers.py
# or for every session, add that line (with an absolute path) to ~/.gdbinit; tools/gdb/gdbinit
# is a ready snippet. Build with debug info first, e.g. one tutorial and the library at -O0 -g3:
#     make debug-tutorial NAME=20_debugging_gradients
#
# What they print (the values exactly as the library's own print() writes them, PyTorch style):
#   autograd::Tensor  tensor([[ 0.2500, -1.5000],
#                             [ 3.0000,  0.1250]], shape=[2, 2], dtype=float32, device=cpu,
#                            requires_grad=true, grad_fn=<softmax>, name="weights")
#   tensor::Array     the same without the autograd fields; a view also shows its strides and
#                     offset (a transpose prints its rows transposed, read through the strides)
#   autograd::Node    node(op=softmax, name="weights", shape=[4, 4], dtype=float64,
#                          site=tutorials/20_debugging_gradients.cpp:123, inputs=[scaled_scores 'scores'])
#   tensor::Shape     [2, 3]          (also tensor::Strides, and core::Device as "cpu")
#
# Big tensors are summarised like PyTorch's: above `attn-print-limit` elements (1000) only
# `attn-print-edge` (3) items are shown at each edge of every dimension, with "..." between.
#     (gdb) set attn-print-edge 5
#     (gdb) set attn-print-limit unlimited        (never summarise)
#
# Commands for stepping through backward without line numbers:
#   attn-break-backward OP [N]   stop when the engine is about to run the backward of an OP node
#                                (the Nth such call from now, default the first, then every one),
#                                and show the node, where it was created and its incoming gradient
#   attn-backward-info           show the same again, from any frame inside a node's backward
#   attn-step-backward           from that stop, step into the op's own backward code (through
#                                the std::function plumbing)
#
# Values are read straight from memory (no function of the program is called), so the printers
# work in a core file, in any frame, and cannot disturb the program. Tensors on a GPU ("cuda")
# are not read: the printer says where they are instead. Written against libstdc++ (GCC's
# standard library): shared_ptr, vector and string internals.

import math
import re
import struct

import gdb

PRINT_LIMIT = 1000  # elements; above this a tensor is summarised (PyTorch's threshold)
PRINT_EDGE = 3      # items kept at each edge of a dimension when summarising (PyTorch's edgeitems)
MAX_DIMS = 16       # anything claiming more dimensions is garbage (an uninitialised variable)
MAX_READ_BYTES = 1 << 26  # read a view's span in one go below this, element by element above

DTYPES = {0: ("float32", "f", 4), 1: ("float64", "d", 8), 2: ("int64", "q", 8), 3: ("bool", "?", 1)}
DEVICES = {0: "cpu", 1: "cuda", 2: "cuda-sim"}

# Where the engine runs one node's backward (autograd/engine.cpp): the function the backward
# commands break on, with arguments `node` (autograd::Node&) and `grad` (the incoming gradient).
ENGINE_CALL = "autograd::detail::run_node_backward"


class Unreadable(Exception):
    """The value does not look like a live object (uninitialised, freed, optimised out)."""


# ---- reading libstdc++ containers without calling into the program ---------------------------

def shared_ptr_get(ptr):
    """The raw pointer held by a std::shared_ptr (or weak_ptr)."""
    return ptr["_M_ptr"]


def vector_items(vec, limit=1 << 20):
    """The elements of a std::vector, as gdb.Values."""
    impl = vec["_M_impl"]
    start, finish = impl["_M_start"], impl["_M_finish"]
    count = int(finish - start)
    if count < 0 or count > limit:
        raise Unreadable("vector of %d elements" % count)
    return [(start + i).dereference() for i in range(count)]


def std_string(value):
    """A std::string's text (C++11 ABI: _M_dataplus._M_p and _M_string_length)."""
    length = int(value["_M_string_length"])
    if length < 0 or length > 4096:
        raise Unreadable("string of length %d" % length)
    if length == 0:
        return ""
    return value["_M_dataplus"]["_M_p"].string(length=length)


def shape_text(sizes):
    return "[" + ", ".join(str(s) for s in sizes) + "]"


def device_text(device):
    kind = DEVICES.get(int(device["type"]), "device%d" % int(device["type"]))
    return kind + (":%d" % int(device["index"]) if kind == "cuda" else "")


# ---- numbers and nested brackets, as tensor/print.cpp writes them -----------------------------
# The same rules as format_array() in tensor/print.cpp, so what gdb shows matches what the program
# prints: one format for every number of a tensor (fixed, scientific, or whole numbers as "3."),
# right-aligned to a common width so the columns line up.

class NumberFormat:
    def __init__(self, values, dtype):
        self.floating = dtype in ("float32", "float64")
        self.scientific = False
        self.integral_values = False
        if self.floating:
            finite = [abs(v) for v in values if math.isfinite(v)]
            largest = max(finite, default=0.0)
            smallest = min((m for m in finite if m > 0), default=math.inf)
            all_integral = all(v == math.floor(v) for v in values if math.isfinite(v))
            self.integral_values = all_integral and largest < 1e8
            # fixed point hides small values next to big ones: switch as PyTorch does
            self.scientific = (not self.integral_values and largest > 0 and
                               (largest >= 1e8 or smallest < 1e-4 or largest / smallest > 1000))
        self.width = 5 if dtype == "bool" else max((len(self.format(v)) for v in values), default=0)
        self.dtype = dtype

    def format(self, v):
        if not self.floating:
            return "%d" % int(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if self.scientific:
            return "%.4e" % v
        if self.integral_values:
            return "%.0f." % v
        return "%.4f" % v

    def text(self, v):
        if self.dtype == "bool":
            text = "true" if v else "false"
        else:
            text = self.format(v)
        return text.rjust(self.width)


def shown_indices(size, summarise):
    """Indices shown along a dimension: all, or the edges with None where "..." goes."""
    if not summarise or size <= 2 * PRINT_EDGE:
        return list(range(size))
    return list(range(PRINT_EDGE)) + [None] + list(range(size - PRINT_EDGE, size))


def element_offsets(sizes, strides, offset, summarise):
    """Storage offsets (in elements) of the shown elements, in row-major order."""
    offsets = []

    def walk(dim, base):
        if dim == len(sizes):
            offsets.append(base)
            return
        for i in shown_indices(sizes[dim], summarise):
            if i is not None:
                walk(dim + 1, base + i * strides[dim])

    walk(0, offset)
    return offsets


def nested_text(sizes, summarise, texts):
    """The bracketed rows of a tensor, PyTorch style; `texts` are the shown values in order."""
    out = []
    position = [0]

    def write(dim, indent):
        if dim == len(sizes):
            out.append(texts[position[0]])
            position[0] += 1
            return
        out.append("[")
        rank = len(sizes) - dim
        for k, i in enumerate(shown_indices(sizes[dim], summarise)):
            if k > 0:
                out.append("," + (" " if rank == 1 else "\n" * (rank - 1) + " " * (indent + 1)))
            if i is None:
                out.append("...")
            else:
                write(dim + 1, indent + 1)
        out.append("]")

    write(0, len("tensor("))
    return "".join(out)


def read_elements(storage, offsets, code, itemsize):
    """The values at these element offsets of a storage (one memory read when they are close)."""
    base = int(storage["data_"])
    nbytes = int(storage["nbytes_"])
    if not offsets:
        return []
    low, high = min(offsets), max(offsets)
    if low < 0 or (high + 1) * itemsize > nbytes:
        raise Unreadable("element %d outside the storage of %d bytes" %
                         (low if low < 0 else high, nbytes))
    inferior = gdb.selected_inferior()
    span = (high - low + 1) * itemsize
    if span <= MAX_READ_BYTES:
        raw = bytes(inferior.read_memory(base + low * itemsize, span))
        return [struct.unpack_from(code, raw, (o - low) * itemsize)[0] for o in offsets]
    return [struct.unpack(code, bytes(inferior.read_memory(base + o * itemsize, itemsize)))[0]
            for o in offsets]


# ---- tensor::Array ----------------------------------------------------------------------------

def contiguous_strides(sizes):
    strides, step = [], 1
    for size in reversed(sizes):
        strides.insert(0, step)
        step *= max(size, 1)
    return strides


def array_text(array, extra=""):
    """A tensor::Array as text; `extra` (", requires_grad=true, ...") goes after the header."""
    try:
        storage = shared_ptr_get(array["storage_"])
        if int(storage) == 0:
            return "tensor(undefined)"
        sizes = [int(v) for v in vector_items(array["shape_"], MAX_DIMS)]
        strides = [int(v) for v in vector_items(array["strides_"], MAX_DIMS)]
        offset = int(array["offset_"])
        dtype_code = int(array["dtype_"])
        if dtype_code not in DTYPES or len(strides) != len(sizes) or any(s < 0 for s in sizes):
            raise Unreadable("dtype %d, shape %s, strides %s" % (dtype_code, sizes, strides))
        dtype, code, itemsize = DTYPES[dtype_code]
        storage = storage.dereference()
        device = device_text(storage["device_"])
        header = "shape=%s, dtype=%s, device=%s" % (shape_text(sizes), dtype, device)
        # A view is read through its strides; say so, it explains why a transpose is "free".
        numel = math.prod(sizes)
        if numel > 1 and strides != contiguous_strides(sizes):
            header += ", strides=%s" % shape_text(strides)
        if offset != 0:
            header += ", offset=%d" % offset
        if device.startswith("cuda") and device != "cuda-sim":
            # GPU memory is not readable from the host; cuda-sim memory is ordinary host memory.
            return ("tensor(<%d values in %s memory, not read; copy them to the cpu with "
                    ".to(kCPU) to see them>, %s%s)" % (numel, device, header, extra))
        summarise = PRINT_LIMIT >= 0 and numel > PRINT_LIMIT
        offsets = element_offsets(sizes, strides, offset, summarise)
        values = read_elements(storage, offsets, code, itemsize)
        fmt = NumberFormat(values, dtype)
        body = nested_text(sizes, summarise, [fmt.text(v) for v in values])
        return "tensor(%s, %s%s)" % (body, header, extra)
    except (Unreadable, gdb.error, gdb.MemoryError) as error:
        return "tensor(<unreadable: %s>)" % error


class ArrayPrinter:
    def __init__(self, value):
        self.value = value

    def to_string(self):
        return array_text(self.value)


# ---- autograd::Tensor and its TensorImpl ------------------------------------------------------

def impl_text(impl):
    extra = ", requires_grad=" + ("true" if bool(impl["requires_grad"]) else "false")
    try:
        grad_fn = shared_ptr_get(impl["grad_fn"])
        if int(grad_fn) != 0:
            extra += ", grad_fn=<%s>" % std_string(grad_fn.dereference()["op"])
        name = std_string(impl["name"])
        if name:
            extra += ', name="%s"' % name
        if int(shared_ptr_get(impl["grad"]["storage_"])) != 0:
            extra += ", grad=stored"
    except (Unreadable, gdb.error, gdb.MemoryError):
        pass
    return array_text(impl["data"], extra)


class TensorPrinter:
    def __init__(self, value):
        self.value = value

    def to_string(self):
        try:
            impl = shared_ptr_get(self.value["impl_"])
            if int(impl) == 0:
                return "tensor(undefined)"
            return impl_text(impl.dereference())
        except (Unreadable, gdb.error, gdb.MemoryError) as error:
            return "tensor(<unreadable: %s>)" % error


class TensorImplPrinter:
    def __init__(self, value):
        self.value = value

    def to_string(self):
        try:
            return impl_text(self.value)
        except (Unreadable, gdb.error, gdb.MemoryError) as error:
            return "tensor(<unreadable: %s>)" % error


# ---- autograd::Node ---------------------------------------------------------------------------

def node_label(node):
    name = std_string(node["name"])
    op = std_string(node["op"])
    return op + (" '%s'" % name if name else "")


def site_text(site):
    impl = site["_M_impl"]
    if int(impl) == 0:
        return "unknown"
    impl = impl.dereference()
    line = int(impl["_M_line"])
    if line == 0:
        return "unknown"
    return "%s:%d" % (impl["_M_file_name"].string(), line)


def node_shape(node):
    return shape_text([int(v) for v in vector_items(node["output_shape"], MAX_DIMS)])


def node_dtype(node):
    return DTYPES.get(int(node["output_dtype"]), ("?",))[0]


def node_inputs(node):
    inputs = []
    for edge in vector_items(node["inputs"], 64):
        pointer = shared_ptr_get(edge)
        inputs.append("none" if int(pointer) == 0 else node_label(pointer.dereference()))
    return inputs


class NodePrinter:
    def __init__(self, value):
        self.value = value

    def to_string(self):
        node = self.value
        try:
            parts = ["op=" + std_string(node["op"])]
            name = std_string(node["name"])
            if name:
                parts.append('name="%s"' % name)
            parts.append("shape=" + node_shape(node))
            parts.append("dtype=" + node_dtype(node))
            if not std_string(node["op"]) == "accumulate_grad":
                parts.append("site=" + site_text(node["site"]))
            parts.append("inputs=[" + ", ".join(node_inputs(node)) + "]")
            if bool(node["released"]):
                parts.append("released")
            return "node(" + ", ".join(parts) + ")"
        except (Unreadable, gdb.error, gdb.MemoryError) as error:
            return "node(<unreadable: %s>)" % error


# ---- small value types ------------------------------------------------------------------------

class ShapePrinter:
    def __init__(self, value):
        self.value = value

    def to_string(self):
        try:
            return shape_text([int(v) for v in vector_items(self.value, MAX_DIMS)])
        except (Unreadable, gdb.error, gdb.MemoryError) as error:
            return "<unreadable shape: %s>" % error


class DevicePrinter:
    def __init__(self, value):
        self.value = value

    def to_string(self):
        return device_text(self.value)


# ---- registration -----------------------------------------------------------------------------

# Shape and Strides are typedefs of std::vector<int64_t>: recognised by their typedef name,
# before it is stripped, so other vectors keep libstdc++'s printer.
TYPEDEF_PRINTERS = {
    "tensor::Shape": ShapePrinter,
    "tensor::Strides": ShapePrinter,
    "autograd::Shape": ShapePrinter,
}

PRINTERS = {
    "tensor::Array": ArrayPrinter,
    "autograd::Tensor": TensorPrinter,
    "autograd::TensorImpl": TensorImplPrinter,
    "autograd::Node": NodePrinter,
    "core::Device": DevicePrinter,
}


def lookup(value):
    value_type = value.type
    if value_type.code == gdb.TYPE_CODE_REF or value_type.code == gdb.TYPE_CODE_RVALUE_REF:
        value_type = value_type.target()
    name = value_type.unqualified().name
    if name in TYPEDEF_PRINTERS:
        return TYPEDEF_PRINTERS[name](value)
    tag = value_type.strip_typedefs().unqualified().tag
    if tag in PRINTERS:
        return PRINTERS[tag](value)
    return None


class PrintEdge(gdb.Parameter):
    """How many items the attn printers keep at each edge of a dimension of a summarised tensor.

    A tensor with more than attn-print-limit elements is summarised: along every dimension only
    this many items at the start and at the end are shown, with "..." between (PyTorch's
    edgeitems; 3 by default)."""

    set_doc = "Set how many items at each edge of a dimension a summarised tensor shows."
    show_doc = "Show how many items at each edge of a dimension a summarised tensor shows."

    def __init__(self):
        super().__init__("attn-print-edge", gdb.COMMAND_DATA, gdb.PARAM_ZUINTEGER)
        self.value = PRINT_EDGE

    def get_set_string(self):
        global PRINT_EDGE
        PRINT_EDGE = int(self.value)
        return ""

    def get_show_string(self, value):
        return "summarised tensors show %s items at each edge of a dimension" % value


class PrintLimit(gdb.Parameter):
    """Above how many elements the attn printers summarise a tensor ("unlimited": never).

    PyTorch's threshold; 1000 by default. See also attn-print-edge."""

    set_doc = "Set above how many elements a tensor is summarised with \"...\"."
    show_doc = "Show above how many elements a tensor is summarised with \"...\"."

    def __init__(self):
        super().__init__("attn-print-limit", gdb.COMMAND_DATA, gdb.PARAM_ZUINTEGER_UNLIMITED)
        self.value = PRINT_LIMIT

    def get_set_string(self):
        global PRINT_LIMIT
        PRINT_LIMIT = int(self.value) if self.value is not None else -1
        return ""

    def get_show_string(self, value):
        return "tensors with more than %s elements are summarised" % value


# ---- breaking in the backward of a named op ---------------------------------------------------

def engine_frame():
    """The innermost frame of the engine's call of one node's backward, from the selected frame
    outwards; None when the program is not inside a backward."""
    frame = gdb.selected_frame()
    while frame is not None:
        if frame.name() == ENGINE_CALL:
            return frame
        frame = frame.older()
    return None


def backward_text(frame):
    """What the engine is doing in `frame` (a frame of ENGINE_CALL): the node whose backward
    runs, where it was created, what it sends gradients to, and its incoming gradient."""
    node = frame.read_var("node")
    grad = frame.read_var("grad")
    label = node_label(node)
    name = std_string(node["name"])
    lines = [
        "backward of %s %s %s, node #%d" % (label, node_shape(node), node_dtype(node),
                                            int(node["sequence"])),
        "  created at   %s" % site_text(node["site"]),
        "  inputs       [%s]" % ", ".join(node_inputs(node)),
        "  incoming gradient (dL/d%s):" % (name if name else "output"),
        array_text(grad),
    ]
    return "\n".join(lines) + "\n"


def ordinal(n):
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return "%d%s" % (n, suffix)


class BackwardBreakpoint(gdb.Breakpoint):
    """Stops in the engine just before it runs the backward of a node whose op is `op`: at the
    `nth` such call from now, and at every one after it."""

    def __init__(self, op, nth):
        super().__init__(ENGINE_CALL)
        self.op, self.nth, self.seen = op, nth, 0

    def stop(self):
        try:
            frame = gdb.newest_frame()
            if std_string(frame.read_var("node")["op"]) != self.op:
                return False
        except (Unreadable, gdb.error, gdb.MemoryError, ValueError) as error:
            gdb.write("attn-break-backward: cannot read the node (%s); is this a -O0 -g "
                      "build?\n" % error)
            return True
        self.seen += 1
        if self.seen < self.nth:
            return False
        gdb.write("\nattn-break-backward %s: the %s %s backward since the breakpoint was set\n"
                  % (self.op, ordinal(self.seen), self.op))
        try:
            gdb.write(backward_text(frame))
        except (Unreadable, gdb.error, gdb.MemoryError, ValueError) as error:
            gdb.write("  (cannot read the node: %s)\n" % error)
        gdb.write("  next: `attn-step-backward` enters %s's backward code; `finish` shows the "
                  "gradients it returns\n\n" % self.op)
        return True


class BreakBackward(gdb.Command):
    """Stop when the backward of an op runs: attn-break-backward OP [N]

    Stops just before the autograd engine runs the backward of a node whose op is OP (the name
    print_graph shows: softmax, matmul, scaled_scores, ...): at the Nth such call from now
    (N = 1 by default) and at every later one. On each stop it shows the node, the file:line
    where it was created and its incoming gradient. Then `attn-step-backward` steps into the
    op's backward code, `attn-backward-info` shows the node again, `finish` returns the
    gradients it sends to its inputs, and `delete` removes the breakpoint like any other.
    Needs a -O0 -g build (make debug-tutorial NAME=...)."""

    def __init__(self):
        super().__init__("attn-break-backward", gdb.COMMAND_BREAKPOINTS)

    def invoke(self, argument, from_tty):
        words = gdb.string_to_argv(argument)
        if not 1 <= len(words) <= 2 or (len(words) == 2 and not words[1].isdigit()):
            raise gdb.GdbError("usage: attn-break-backward OP [N]   e.g. attn-break-backward "
                               "softmax, or attn-break-backward softmax 2 for the second")
        nth = int(words[1]) if len(words) == 2 else 1
        if nth < 1:
            raise gdb.GdbError("attn-break-backward: N counts from 1, got %d" % nth)
        breakpoint = BackwardBreakpoint(words[0], nth)
        gdb.write("Breakpoint %d: the %s backward of op '%s' (at %s)\n" % (
            breakpoint.number, "next" if nth == 1 else ordinal(nth), words[0], ENGINE_CALL))


class BackwardInfo(gdb.Command):
    """Show the node whose backward is running: attn-backward-info

    Works in any frame inside a node's backward (the engine's call, the op's backward lambda,
    or a function it calls): shows the node's op and name, where it was created, its inputs and
    the incoming gradient."""

    def __init__(self):
        super().__init__("attn-backward-info", gdb.COMMAND_DATA)

    def invoke(self, argument, from_tty):
        frame = engine_frame()
        if frame is None:
            raise gdb.GdbError("attn-backward-info: no backward is running in the selected "
                               "frame's stack (no %s frame); stop in one first, e.g. with "
                               "attn-break-backward softmax" % ENGINE_CALL)
        gdb.write(backward_text(frame))


def body_lines(frame):
    """The source lines of the body of frame's function: those after the line it is declared on
    and before its last line (the closing brace); empty when unknown or all on one line."""
    try:
        function = frame.function()
        block = frame.block()
        while block is not None and block.function is None:
            block = block.superblock
        symtab = frame.find_sal().symtab
        if function is None or block is None or symtab is None:
            return set()
        lines = {entry.line for entry in symtab.linetable()
                 if block.start <= entry.pc < block.end and entry.line > 0}
    except (gdb.error, RuntimeError):
        return set()
    if not lines:
        return set()
    # (a lambda's symbol has no line of its own: its header is its first line)
    first = function.line if function.line > 0 else min(lines)
    last = max(lines)
    return {line for line in lines if first < line < last}


class StepBackward(gdb.Command):
    """Step from the engine into the op's backward code: attn-step-backward

    From a stop of attn-break-backward, `step` would walk through std::function's internals
    first; this steps until the first line of the op's own backward (its lambda, beside the
    forward, in autograd/ops_*.cpp or wherever the op was defined)."""

    def __init__(self):
        super().__init__("attn-step-backward", gdb.COMMAND_RUNNING)

    def invoke(self, argument, from_tty):
        if gdb.selected_frame().name() != ENGINE_CALL:
            raise gdb.GdbError("attn-step-backward: run it where attn-break-backward stopped "
                               "(in %s)" % ENGINE_CALL)
        # Each step would print the std:: frame it stops in: keep gdb quiet until the op's own
        # code is reached, then show where that is.
        gdb.execute("set suppress-cli-notifications on", to_string=True)
        try:
            for _ in range(64):
                gdb.execute("step", to_string=True)
                name = gdb.selected_frame().name() or ""
                if name != ENGINE_CALL and not name.startswith("std::"):
                    break
            # At -O0 a lambda's first stop can be its closing line (the prologue builds the
            # return value): go on to the first line of its body.
            frame = gdb.selected_frame()
            body = body_lines(frame)
            for _ in range(8):
                if not body or frame.find_sal().line in body:
                    break
                gdb.execute("next", to_string=True)
                if gdb.selected_frame() != frame:
                    break
        finally:
            gdb.execute("set suppress-cli-notifications off", to_string=True)
        gdb.execute("frame")


def install(printers):
    """Puts our lookup first in a list of printers (once)."""
    if not any(getattr(p, "attn_lookup", False) for p in printers):
        printers.insert(0, lookup)


def register():
    lookup.attn_lookup = True
    # gdb asks the printers of each loaded file (objfile) before the global ones, and
    # libstdc++'s vector printer, loaded with libstdc++.so, would claim tensor::Shape. So ours go
    # first in every objfile, including those loaded later (shared libraries at `run`).
    install(gdb.pretty_printers)
    for objfile in gdb.objfiles():
        install(objfile.pretty_printers)
    if not getattr(gdb, "attn_new_objfile_hooked", False):
        gdb.events.new_objfile.connect(lambda event: install(event.new_objfile.pretty_printers))
        gdb.attn_new_objfile_hooked = True
    PrintEdge()
    PrintLimit()
    BreakBackward()
    BackwardInfo()
    StepBackward()


register()
