# session.gdb — the gdb session that tests/gdb/test_gdb_session.cpp runs on the -O0 build of
# tests/gdb/programs/gdb_tour.cpp and checks line by line. It is also a tour of the commands:
#   make BUILD=debug build/debug/tests/gdb/gdb_tour
#   gdb -nx -batch -x tests/gdb/session.gdb build/debug/tests/gdb/gdb_tour
set pagination off
set confirm off
set width 0
set print thread-events off
set print inferior-events off
set debuginfod enabled off
set disable-randomization off
source tools/gdb/attn_printers.py

break stop_here
run
up
echo \n=== square\n
print square
echo \n=== cube\n
print cube
echo \n=== transposed\n
print transposed
echo \n=== sliced\n
print sliced
echo \n=== big\n
print big
echo \n=== ids\n
print ids
echo \n=== mask\n
print mask
echo \n=== tiny\n
print tiny
echo \n=== weird\n
print weird
echo \n=== sim\n
print sim
echo \n=== weight\n
print weight
echo \n=== zero_d\n
print zero_d
echo \n=== empty\n
print empty
echo \n=== array\n
print transposed.impl_._M_ptr->data
echo \n=== big-edge-2\n
set attn-print-edge 2
print big
set attn-print-edge 3
echo \n=== square-limit-4-edge-1\n
set attn-print-limit 4
set attn-print-edge 1
print square
set attn-print-edge 3
set attn-print-limit unlimited
echo \n=== big-unlimited-rows\n
print big.impl_._M_ptr->data.shape_
set attn-print-limit 1000
echo \n=== cuda\n
# No GPU needed to see what a cuda tensor looks like: relabel sim's storage as cuda memory for
# one print (and back, before the program frees it).
set var sim.impl_._M_ptr->data.storage_._M_ptr->device_.type = core::DeviceType::CUDA
print sim
set var sim.impl_._M_ptr->data.storage_._M_ptr->device_.type = core::DeviceType::CudaSim
echo \n=== no-backward\n
# (an error would end a batch script, so it is caught and printed)
python
try:
    gdb.execute("attn-backward-info")
except gdb.error as error:
    print(error)
end
delete

echo \n=== break-softmax\n
attn-break-backward softmax
continue
echo \n=== info-at-stop\n
attn-backward-info
echo \n=== step-into\n
attn-step-backward
bt 2
echo \n=== info-inside\n
attn-backward-info
echo \n=== g-inside\n
print g
delete

echo \n=== break-softmax-2\n
attn-break-backward softmax 2
continue
echo \n=== done\n
delete
continue
