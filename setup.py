"""Build the fastconv CPU extension (Cython + OpenMP).

Environment:
  FASTCONV_NO_OPENMP=1   build without OpenMP (serial) when the compiler has none.
  FASTCONV_SANITIZE=address,undefined   add -fsanitize=... (debug builds for CI).
  FASTCONV_BUILD_JOBS=N  compile the sources N at a time (default: the CPUs usable).
No -march flag: SIMD code paths are compiled with per-function target
attributes and chosen at run time (fastconv/_kernels.h).
"""
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from concurrent.futures import ThreadPoolExecutor

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_TEST = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    printf("%d %d\n", n, omp_get_max_threads());
    return n >= 1 ? 0 : 1;
}
"""


def _truthy(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def compiler_has_openmp(cc, compile_flags, link_flags):
    """Compile, link and run a tiny OpenMP program (as scikit-learn does), with the
    user's CPPFLAGS/CFLAGS/LDFLAGS (where e.g. libomp's include and lib dirs are)."""
    env_flags = shlex.split(" ".join(os.environ.get(k, "")
                                     for k in ("CPPFLAGS", "CFLAGS", "LDFLAGS")))
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "omp.c")
        exe = os.path.join(tmp, "omp")
        with open(src, "w") as f:
            f.write(OPENMP_TEST)
        r = subprocess.run(cc + env_flags + compile_flags + [src, "-o", exe] + link_flags,
                           capture_output=True)
        if r.returncode != 0:
            return False
        return subprocess.run([exe], capture_output=True).returncode == 0
    except OSError:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _build_jobs():
    jobs = os.environ.get("FASTCONV_BUILD_JOBS", "").strip()
    if jobs.isdigit() and int(jobs) > 0:
        return int(jobs)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def parallel_compile(compiler, jobs):
    """Make `compiler` build an extension's sources `jobs` at a time, as numpy's
    distutils did (setuptools builds one source after another).  The kernels are
    one translation unit per ISA level, each tens of seconds of -O3; together
    with the Cython module they took 2 minutes in one process.  Falls back to the
    serial compile where the compiler class lacks distutils' usual helpers."""
    serial = compiler.compile
    if jobs < 2 or not all(hasattr(compiler, f)
                           for f in ("_setup_compile", "_get_cc_args", "_compile")):
        return

    def compile(sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                extra_preargs=None, extra_postargs=None, depends=None):
        if len(sources) < 2:
            return serial(sources, output_dir, macros, include_dirs, debug,
                          extra_preargs, extra_postargs, depends)
        macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)
        todo = [(obj,) + tuple(build[obj]) for obj in objects if obj in build]

        def one(job):
            obj, src, ext = job
            compiler._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(one, todo))   # re-raises the first failure
        return objects

    compiler.compile = compile


class BuildExt(build_ext):
    def build_extensions(self):
        parallel_compile(self.compiler, _build_jobs())
        cc = list(self.compiler.compiler_so[:1]) if hasattr(self.compiler, "compiler_so") \
            else [sysconfig.get_config_var("CC") or "cc"]
        compile_args = ["-O3", "-ffp-contract=fast", "-fno-math-errno"]
        link_args = []
        macros = []
        openmp = None
        if _truthy("FASTCONV_NO_OPENMP"):
            openmp = False
        else:
            # gcc / LLVM clang; then Apple clang with Homebrew's libomp (the macOS wheels)
            for flags in ((["-fopenmp"], ["-fopenmp"]),
                          (["-Xpreprocessor", "-fopenmp"], ["-lomp"])):
                if compiler_has_openmp(cc, *flags):
                    openmp = flags
                    break
        if openmp is None:
            sys.exit(
                "fastconv: the C compiler ({}) cannot build OpenMP code with -fopenmp.\n"
                "Install an OpenMP-capable compiler (gcc, or clang with libomp; on macOS\n"
                "`brew install libomp` and CPPFLAGS=-I$(brew --prefix libomp)/include\n"
                "LDFLAGS=-L$(brew --prefix libomp)/lib), or set\n"
                "FASTCONV_NO_OPENMP=1 to build a serial (single-threaded) fastconv."
                .format(" ".join(cc)))
        if openmp:
            compile_args += openmp[0]
            link_args += openmp[1]
        sanitize = os.environ.get("FASTCONV_SANITIZE", "").strip()
        if sanitize:
            # -O1 (after -O3, so it wins), as sanitizer builds usually are, no
            # variable tracking (debuggers' variable locations; a report needs only
            # the line tables) and FC_SANITIZE: the instrumented build at -O3 with
            # the depthwise loops unrolled took GCC over ten minutes, this ~1 minute.
            compile_args += ["-fsanitize=" + sanitize, "-fno-omit-frame-pointer", "-g",
                             "-fno-var-tracking", "-fno-var-tracking-assignments",
                             "-fno-sanitize-recover=all", "-O1"]
            link_args += ["-fsanitize=" + sanitize]
            macros.append(("FC_SANITIZE", "1"))   # see FC_DW_UNROLL in _kernels_base.h
        flags = " ".join(compile_args)
        for ext in self.extensions:
            ext.extra_compile_args = compile_args
            ext.extra_link_args = link_args
            ext.define_macros = [("FC_BUILD_FLAGS", '"{}"'.format(flags)),
                                 ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")] + macros
        super().build_extensions()


def extensions():
    from Cython.Build import cythonize
    ext = Extension("fastconv._cpu",
                    ["fastconv/_kernels_avx512.c", "fastconv/_kernels_avx2.c",
                     "fastconv/_kernels_generic.c", "fastconv/_cpu.pyx"],
                    depends=["fastconv/_kernels.h", "fastconv/_kernels_base.h",
                             "fastconv/_kernels_impl.h", "fastconv/_kernels_dtypes.h",
                             "fastconv/_omp_shim.h"])
    return cythonize([ext], compiler_directives={"language_level": "3"})


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
