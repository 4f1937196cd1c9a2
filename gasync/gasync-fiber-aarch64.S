/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Fiber context switch for AArch64, AAPCS64 (ELF).
 *
 * void gasync_fiber_asm_switch (void **save_sp, void *new_sp);
 *
 * Stores what AAPCS64 makes callee-saved (x19-x28, the frame pointer x29,
 * the link register x30, and the low halves d8-d15 of v8-v15) in a 160-byte
 * frame on the current stack, stores sp in *save_sp, then loads new_sp and
 * restores the same frame from there, returning through the restored x30.
 * x18 is the platform register and is never touched.  FPCR and FPSR are
 * thread state and are left alone.  Frame, from new_sp upwards:
 *
 *   +0   x19 x20     +48  x25 x26     +96  d8  d9      +144 d14 d15
 *   +16  x21 x22     +64  x27 x28     +112 d10 d11
 *   +32  x23 x24     +80  x29 x30     +128 d12 d13
 *
 * gasync-fiber.c builds the same frame for a new fiber, ending at the
 * page-aligned stack top, with x19 = func, x20 = data, x29 = 0 and
 * x30 = gasync_fiber_asm_entry.
 */

#if defined(__aarch64__) && defined(__ELF__) && !defined(__ILP32__)

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
# define BTI_C bti c
#else
# define BTI_C
#endif

        .text

        .globl  gasync_fiber_asm_switch
        .hidden gasync_fiber_asm_switch
        .type   gasync_fiber_asm_switch, %function
        .p2align 4
gasync_fiber_asm_switch:
        .cfi_startproc
        BTI_C
        sub     sp, sp, #160
        .cfi_def_cfa_offset 160
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        .cfi_offset x29, -80
        .cfi_offset x30, -72
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]

        /* The switch proper.  Both stacks hold the same frame shape, so the
         * CFI above stays true after it. */
        mov     x9, sp
        str     x9, [x0]
        mov     sp, x1

        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #160
        .cfi_def_cfa_offset 0
        .cfi_restore x29
        .cfi_restore x30
        ret
        .cfi_endproc
        .size   gasync_fiber_asm_switch, .-gasync_fiber_asm_switch

/*
 * First code run by a new fiber, reached by the "ret" of
 * gasync_fiber_asm_switch (a return is no indirect branch for BTI, but the
 * landing pad costs nothing).  sp is the 16-byte aligned stack top.  The
 * link register is marked undefined so that unwinders stop here, and x29 is
 * 0 for frame-pointer walkers.
 */
        .globl  gasync_fiber_asm_entry
        .hidden gasync_fiber_asm_entry
        .type   gasync_fiber_asm_entry, %function
        .p2align 4
gasync_fiber_asm_entry:
        .cfi_startproc
        .cfi_undefined x30
        BTI_C
        mov     x0, x19
        mov     x1, x20
        bl      gasync_fiber_enter
        /* gasync_fiber_enter never returns. */
        brk     #0x3e8
        .cfi_endproc
        .size   gasync_fiber_asm_entry, .-gasync_fiber_asm_entry

#if (defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT) || \
    (defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT)

# if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#  define GNU_PROPERTY_BTI 1
# else
#  define GNU_PROPERTY_BTI 0
# endif
# if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#  define GNU_PROPERTY_PAC 2
# else
#  define GNU_PROPERTY_PAC 0
# endif

/*
 * GNU property note: the global entries start with "bti c", and nothing
 * here signs or authenticates return addresses in a way pac-ret would
 * reject (the switch saves and restores x30 as an opaque value).
 */
        .section .note.gnu.property, "a"
        .p2align 3
        .word   4                       /* name size: "GNU\0" */
        .word   16                      /* descriptor size */
        .word   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .word   0xc0000000              /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
        .word   4                       /* property data size */
        .word   (GNU_PROPERTY_BTI | GNU_PROPERTY_PAC)
        .word   0                       /* pad to 8 bytes */
#endif

#endif /* __aarch64__ && __ELF__ */

#if defined(__ELF__)
        .section .note.GNU-stack, "", %progbits
#endif
