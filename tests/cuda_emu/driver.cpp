// CPU-emulated launch of one fastconv CUDA kernel (see cuda_emu.h).
//
// usage: driver NAME GX GY GZ BX BY BZ X W B Y NY WORK I0 .. I18
//   NAME   a name expression from fastconv._gpu.name_expressions()
//   X W B  raw little-endian arrays (files); B may be "-" (W is passed instead)
//   Y      output file, NY elements; WORK and I0..I18 are fastconv._gpu.pack_args()
// The table of kernels (fc_table.inc, written by tests/test_cuda_emu.py) has
// one FC_ENTRY(ctype, name expression) per specialisation.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "conv2d.cu"
#include "conv_transpose2d.cu"
#include "splitk.cu"

template <class T>
static std::vector<T> read_file(const char* path) {
    std::vector<T> v;
    FILE* f = std::fopen(path, "rb");
    if (!f) { std::perror(path); std::exit(2); }
    std::fseek(f, 0, SEEK_END);
    long n = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    v.resize(n / sizeof(T));       // exact size: AddressSanitizer sees any overrun
    if (n && std::fread(v.data(), 1, n, f) != (size_t)n) { std::perror(path); std::exit(2); }
    std::fclose(f);
    return v;
}

template <class T, class Kernel>
static int run(Kernel kernel, char** argv) {
    dim3 grid(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]));
    dim3 block(std::atoi(argv[5]), std::atoi(argv[6]), std::atoi(argv[7]));
    std::vector<T> x = read_file<T>(argv[8]), w = read_file<T>(argv[9]);
    std::vector<T> b = std::strcmp(argv[10], "-") ? read_file<T>(argv[10]) : w;
    const long long ny = std::atoll(argv[12]);
    // Output pre-filled with NaN: an element no thread writes fails the test.
    std::vector<T> y(ny, T(NAN));
    const long long work = std::atoll(argv[13]);
    int a[19];
    for (int i = 0; i < 19; ++i) a[i] = std::atoi(argv[14 + i]);
    cuda_emu::launch(grid, block, kernel, (const T*)x.data(), (const T*)w.data(),
                     (const T*)b.data(), y.data(), work, a[0], a[1], a[2], a[3], a[4], a[5],
                     a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16],
                     a[17], a[18]);
    FILE* f = std::fopen(argv[11], "wb");
    if (!f || std::fwrite(y.data(), sizeof(T), ny, f) != (size_t)ny) { std::perror(argv[11]); return 2; }
    std::fclose(f);
    return 0;
}

int main(int argc, char** argv) {
    if (argc != 33) { std::fprintf(stderr, "driver: expected 32 arguments, got %d\n", argc - 1); return 2; }
    const std::string name = argv[1];
#define FC_ENTRY(T, ...) if (name == #__VA_ARGS__) return run<T>(&__VA_ARGS__, argv);
#include "fc_table.inc"
#undef FC_ENTRY
    std::fprintf(stderr, "driver: unknown kernel %s\n", argv[1]);
    return 2;
}
