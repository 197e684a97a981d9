// cuda_emu.h: run CUDA C kernels on the CPU, for tests (g++ -std=c++20).
//
// Included (-include) before a .cu source so g++ compiles the very source
// nvcc compiles.  A launch runs the grid's blocks one after another; each
// thread of a block is an OS thread (std::thread), __syncthreads() is a
// barrier of the block's threads, __shared__ variables become function-local
// statics (one object per kernel specialisation, shared by the block's
// threads; blocks never overlap, so no two blocks see it at once), and
// threadIdx/blockIdx/blockDim/gridDim are thread_local.
//
// What it catches: wrong index arithmetic; out-of-bounds accesses (built
// with -fsanitize=address); a missing barrier between writing a shared tile
// and reading it, usually (OS threads interleave freely, so a race shows as
// wrong values -- likely, not guaranteed: compute-sanitizer's racecheck on a
// GPU is the real check); a __syncthreads() that some threads of a block
// skip deadlocks, which the test harness turns into a timeout.  A thread
// that returns early is dropped from the block's barrier, as on hardware.
#pragma once

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
    dim3() = default;
    dim3(unsigned x_, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace cuda_emu {
inline thread_local dim3 thread_idx, block_idx, block_dim, grid_dim;
inline thread_local std::barrier<>* block_barrier = nullptr;

// Run kernel(args...) over grid x block, block by block.  The block's threads
// are started once per launch and walk the blocks together: `done` holds them
// until every thread has finished a block, and its completion step gives the
// next block a fresh __syncthreads() barrier (a thread that returned early
// left the old one with arrive_and_drop).
template <class Kernel, class... Args>
void launch(dim3 grid, dim3 block, Kernel kernel, Args... args) {
    const unsigned nthreads = block.x * block.y * block.z;
    auto sync = std::make_unique<std::barrier<>>(nthreads);
    auto next_block = [&]() noexcept { sync = std::make_unique<std::barrier<>>(nthreads); };
    std::barrier<decltype(next_block)> done(nthreads, next_block);
    std::vector<std::thread> threads;
    threads.reserve(nthreads);
    for (unsigned t = 0; t < nthreads; ++t)
        threads.emplace_back([&, t] {
            thread_idx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
            block_dim = block;
            grid_dim = grid;
            for (unsigned bz = 0; bz < grid.z; ++bz)
                for (unsigned by = 0; by < grid.y; ++by)
                    for (unsigned bx = 0; bx < grid.x; ++bx) {
                        block_idx = dim3(bx, by, bz);
                        block_barrier = sync.get();
                        kernel(args...);
                        block_barrier->arrive_and_drop();   // exited: leaves the barrier
                        done.arrive_and_wait();
                    }
        });
    for (auto& th : threads) th.join();
}
}  // namespace cuda_emu

#define threadIdx (cuda_emu::thread_idx)
#define blockIdx (cuda_emu::block_idx)
#define blockDim (cuda_emu::block_dim)
#define gridDim (cuda_emu::grid_dim)
#define __syncthreads() (cuda_emu::block_barrier->arrive_and_wait())

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
