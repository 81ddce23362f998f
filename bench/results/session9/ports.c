// Port bounds of one core, native x86 (AVX encodings of the 128-bit ops V8 emits for wasm SIMD128).
// Session 9 host: AMD EPYC family 25 model 1 (Zen 3), 2 vCPU. Build and run on an idle machine:
//   gcc -O2 -mavx2 -mfma -o ports ports.c && ./ports
// Output there (3.21 GHz): pmaddwd+paddd 4.96-5.05 cycles per 64 MACs (12.7-12.9 MAC/cycle, with or
// without the 6 loads of the int8 tile), mulps+addps and FMA 4.01-4.02 cycles per 32 (8.0 MAC/cycle).
#include <stdio.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define BODY_MADD_ADD \
 "vpmaddwd %%xmm0,%%xmm2,%%xmm12\n vpaddd %%xmm12,%%xmm4,%%xmm4\n" \
 "vpmaddwd %%xmm1,%%xmm2,%%xmm13\n vpaddd %%xmm13,%%xmm5,%%xmm5\n" \
 "vpmaddwd %%xmm0,%%xmm3,%%xmm14\n vpaddd %%xmm14,%%xmm6,%%xmm6\n" \
 "vpmaddwd %%xmm1,%%xmm3,%%xmm15\n vpaddd %%xmm15,%%xmm7,%%xmm7\n" \
 "vpmaddwd %%xmm0,%%xmm1,%%xmm12\n vpaddd %%xmm12,%%xmm8,%%xmm8\n" \
 "vpmaddwd %%xmm2,%%xmm3,%%xmm13\n vpaddd %%xmm13,%%xmm9,%%xmm9\n" \
 "vpmaddwd %%xmm0,%%xmm0,%%xmm14\n vpaddd %%xmm14,%%xmm10,%%xmm10\n" \
 "vpmaddwd %%xmm3,%%xmm3,%%xmm15\n vpaddd %%xmm15,%%xmm11,%%xmm11\n"
#define BODY_MUL_ADD \
 "vmulps %%xmm0,%%xmm2,%%xmm12\n vaddps %%xmm12,%%xmm4,%%xmm4\n" \
 "vmulps %%xmm1,%%xmm2,%%xmm13\n vaddps %%xmm13,%%xmm5,%%xmm5\n" \
 "vmulps %%xmm0,%%xmm3,%%xmm14\n vaddps %%xmm14,%%xmm6,%%xmm6\n" \
 "vmulps %%xmm1,%%xmm3,%%xmm15\n vaddps %%xmm15,%%xmm7,%%xmm7\n" \
 "vmulps %%xmm0,%%xmm1,%%xmm12\n vaddps %%xmm12,%%xmm8,%%xmm8\n" \
 "vmulps %%xmm2,%%xmm3,%%xmm13\n vaddps %%xmm13,%%xmm9,%%xmm9\n" \
 "vmulps %%xmm0,%%xmm0,%%xmm14\n vaddps %%xmm14,%%xmm10,%%xmm10\n" \
 "vmulps %%xmm3,%%xmm3,%%xmm15\n vaddps %%xmm15,%%xmm11,%%xmm11\n"
#define BODY_FMA \
 "vfmadd231ps %%xmm0,%%xmm2,%%xmm4\n vfmadd231ps %%xmm1,%%xmm2,%%xmm5\n vfmadd231ps %%xmm0,%%xmm3,%%xmm6\n vfmadd231ps %%xmm1,%%xmm3,%%xmm7\n" \
 "vfmadd231ps %%xmm0,%%xmm1,%%xmm8\n vfmadd231ps %%xmm2,%%xmm3,%%xmm9\n vfmadd231ps %%xmm0,%%xmm0,%%xmm10\n vfmadd231ps %%xmm3,%%xmm3,%%xmm11\n"
#define BODY_MADD_LOAD \
 "vmovdqu (%1),%%xmm0\n vmovdqu 16(%1),%%xmm1\n vmovdqu 32(%1),%%xmm2\n vmovdqu 48(%1),%%xmm3\n vmovdqu 64(%1),%%xmm14\n vmovdqu 80(%1),%%xmm15\n" \
 "vpmaddwd %%xmm14,%%xmm0,%%xmm12\n vpaddd %%xmm12,%%xmm4,%%xmm4\n" \
 "vpmaddwd %%xmm15,%%xmm0,%%xmm13\n vpaddd %%xmm13,%%xmm5,%%xmm5\n" \
 "vpmaddwd %%xmm14,%%xmm1,%%xmm12\n vpaddd %%xmm12,%%xmm6,%%xmm6\n" \
 "vpmaddwd %%xmm15,%%xmm1,%%xmm13\n vpaddd %%xmm13,%%xmm7,%%xmm7\n" \
 "vpmaddwd %%xmm14,%%xmm2,%%xmm12\n vpaddd %%xmm12,%%xmm8,%%xmm8\n" \
 "vpmaddwd %%xmm15,%%xmm2,%%xmm13\n vpaddd %%xmm13,%%xmm9,%%xmm9\n" \
 "vpmaddwd %%xmm14,%%xmm3,%%xmm12\n vpaddd %%xmm12,%%xmm10,%%xmm10\n" \
 "vpmaddwd %%xmm15,%%xmm3,%%xmm13\n vpaddd %%xmm13,%%xmm11,%%xmm11\n"
#define RUN(name, body, macs) { long n=N; double t0=now(); \
  __asm__ volatile("vpxor %%xmm0,%%xmm0,%%xmm0\n vpxor %%xmm1,%%xmm1,%%xmm1\n vpxor %%xmm2,%%xmm2,%%xmm2\n vpxor %%xmm3,%%xmm3,%%xmm3\n" \
   "1:\n" body "dec %0\n jnz 1b\n" : "+r"(n) : "r"(buf) : "memory","xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm12","xmm13","xmm14","xmm15"); \
  double c=(now()-t0)*ghz*1e9/N; printf("%-16s %.2f cycles/iter  %.1f MAC/cycle\n", name, c, macs/c); }
int main(){
  static char buf[256] __attribute__((aligned(64)));
  long N=100000000; long x=0; double t0=now();
  for(long i=0;i<N;i++){ __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x)); }
  double ghz=4.0*N/(now()-t0)/1e9; printf("clock ~ %.2f GHz\n", ghz);
  RUN("pmaddwd+paddd", BODY_MADD_ADD, 64.0)
  RUN("pmaddwd+paddd+6ld", BODY_MADD_LOAD, 64.0)
  RUN("mulps+addps", BODY_MUL_ADD, 32.0)
  RUN("fma", BODY_FMA, 32.0)
  return 0;
}
