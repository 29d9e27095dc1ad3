# attn_printers.py — gdb pretty-printers for this library's tensors and graph nodes.
#
# Load them in a gdb session (from the repository root):
#     (gdb) source tools/gdb/attn_printers.py
# or for every session, add that line (with an absolute path) to ~/.gdbinit; tools/gdb/gdbinit
# is a ready snippet. Build with debug info first: `make debug` (-O0 -g3, into build/debug/).
#
# What they print:
#   tensor::Array     tensor(shape=[2, 3], dtype=float32, device=cpu) {1.0, 2.0, ...}
#   autograd::Tensor  tensor(shape=[2, 3], dtype=float32, device=cpu, requires_grad=true,
#                            grad_fn=softmax, name="weights") {0.25, 0.75, ...}
#   autograd::Node    node(op=softmax, name="weights", shape=[4, 4], dtype=float64,
#                          site=tutorials/20_debugging_gradients.cpp:123, inputs=[scaled_scores 'scores'])
#   tensor::Shape     [2, 3]          (also tensor::Strides, and core::Device as "cpu")
#
# Everything is read straight from memory (no function of the program is called), so the
# printers work in a core file, in any frame, and cannot disturb the program. The first
# values are shown in row-major order, 8 by default; change that with
#     (gdb) set attn-max-elements 50
# Written against libstdc++ (GCC's standard library): shared_ptr, vector and string internals.

import struct

import gdb

MAX_ELEMENTS = 8  # values shown per tensor before "..."
MAX_DIMS = 16     # anything claiming more dimensions is garbage (an uninitialised variable)

DTYPES = {0: ("float32", "f", 4), 1: ("float64", "d", 8), 2: ("int64", "q", 8), 3: ("bool", "?", 1)}
DEVICES = {0: "cpu", 1: "cuda", 2: "cuda-sim"}


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


def shape_text(vec):
    sizes = [int(v) for v in vector_items(vec, MAX_DIMS)]
    return "[" + ", ".join(str(s) for s in sizes) + "]"


def device_text(device):
    kind = DEVICES.get(int(device["type"]), "device%d" % int(device["type"]))
    return kind + (":%d" % int(device["index"]) if kind == "cuda" else "")


def number_text(value, dtype):
    if dtype == "bool":
        return "true" if value else "false"
    if dtype == "int64":
        return str(value)
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    text = "%.6g" % value
    return text if any(c in text for c in ".e") else text + ".0"


# ---- tensor::Array ----------------------------------------------------------------------------

def array_fields(array):
    """(header text without the closing parenthesis, values text) of a tensor::Array."""
    storage = shared_ptr_get(array["storage_"])
    if int(storage) == 0:
        return None, None
    sizes = [int(v) for v in vector_items(array["shape_"], MAX_DIMS)]
    strides = [int(v) for v in vector_items(array["strides_"], MAX_DIMS)]
    offset = int(array["offset_"])
    dtype_code = int(array["dtype_"])
    if dtype_code not in DTYPES or len(strides) != len(sizes) or any(s < 0 for s in sizes):
        raise Unreadable("dtype %d, shape %s, strides %s" % (dtype_code, sizes, strides))
    dtype, code, itemsize = DTYPES[dtype_code]
    storage = storage.dereference()
    device = device_text(storage["device_"])
    header = "tensor(shape=[%s], dtype=%s, device=%s" % (", ".join(map(str, sizes)), dtype, device)

    numel = 1
    for s in sizes:
        numel *= s
    if device.startswith("cuda") and device != "cuda-sim":
        return header, "{values in GPU memory}"
    base = int(storage["data_"])
    nbytes = int(storage["nbytes_"])
    inferior = gdb.selected_inferior()
    values = []
    for flat in range(min(numel, MAX_ELEMENTS)):
        # row-major position -> element offset through the strides (views are not packed)
        element, rest = offset, flat
        for size, stride in zip(reversed(sizes), reversed(strides)):
            element += (rest % size) * stride
            rest //= size
        if element < 0 or (element + 1) * itemsize > nbytes:
            raise Unreadable("element %d outside the storage" % element)
        raw = inferior.read_memory(base + element * itemsize, itemsize)
        values.append(number_text(struct.unpack(code, bytes(raw))[0], dtype))
    if numel > MAX_ELEMENTS:
        values.append("...")
    return header, "{" + ", ".join(values) + "}"


def array_text(array, extra=""):
    try:
        header, values = array_fields(array)
    except (Unreadable, gdb.error, gdb.MemoryError) as error:
        return "tensor(<unreadable: %s>)" % error
    if header is None:
        return "tensor(undefined)"
    return header + extra + ") " + values


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
            extra += ", grad_fn=" + std_string(grad_fn.dereference()["op"])
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
            dtype = DTYPES.get(int(node["output_dtype"]), ("?",))[0]
            parts.append("shape=" + shape_text(node["output_shape"]))
            parts.append("dtype=" + dtype)
            if not std_string(node["op"]) == "accumulate_grad":
                parts.append("site=" + site_text(node["site"]))
            inputs = []
            for edge in vector_items(node["inputs"], 64):
                pointer = shared_ptr_get(edge)
                inputs.append("none" if int(pointer) == 0 else node_label(pointer.dereference()))
            parts.append("inputs=[" + ", ".join(inputs) + "]")
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
            return shape_text(self.value)
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


class MaxElements(gdb.Parameter):
    """How many values of a tensor the attn pretty-printers show before "..."."""

    set_doc = "Set how many values of a tensor the attn pretty-printers show."
    show_doc = "Show how many values of a tensor the attn pretty-printers show."

    def __init__(self):
        super().__init__("attn-max-elements", gdb.COMMAND_DATA, gdb.PARAM_ZUINTEGER)
        self.value = MAX_ELEMENTS

    def get_set_string(self):
        global MAX_ELEMENTS
        MAX_ELEMENTS = int(self.value)
        return ""

    def get_show_string(self, value):
        return "attn pretty-printers show %s values per tensor" % value


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
    MaxElements()


register()
