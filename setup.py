"""Build the fastconv CPU extension (Cython + OpenMP).

Environment:
  FASTCONV_NO_OPENMP=1   build without OpenMP (serial) when the compiler has none.
  FASTCONV_SANITIZE=address,undefined   add -fsanitize=... (debug builds for CI).
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


class BuildExt(build_ext):
    def build_extensions(self):
        cc = list(self.compiler.compiler_so[:1]) if hasattr(self.compiler, "compiler_so") \
            else [sysconfig.get_config_var("CC") or "cc"]
        compile_args = ["-O3", "-ffp-contract=fast", "-fno-math-errno"]
        link_args = []
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
            # -O1 (after -O3, so it wins), as sanitizer builds usually are: at -O3
            # the instrumented, fully unrolled kernels took GCC over ten minutes.
            compile_args += ["-fsanitize=" + sanitize, "-fno-omit-frame-pointer", "-g",
                             "-fno-sanitize-recover=all", "-O1"]
            link_args += ["-fsanitize=" + sanitize]
        flags = " ".join(compile_args)
        for ext in self.extensions:
            ext.extra_compile_args = compile_args
            ext.extra_link_args = link_args
            ext.define_macros = [("FC_BUILD_FLAGS", '"{}"'.format(flags)),
                                 ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
        super().build_extensions()


def extensions():
    from Cython.Build import cythonize
    ext = Extension("fastconv._cpu", ["fastconv/_cpu.pyx"],
                    depends=["fastconv/_kernels.h", "fastconv/_kernels_impl.h",
                             "fastconv/_kernels_dtypes.h",
                             "fastconv/_omp_shim.h"])
    return cythonize([ext], compiler_directives={"language_level": "3"})


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
