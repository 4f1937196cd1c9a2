/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Fiber context switch for x86-64, System V ABI (ELF).
 *
 * void gasync_fiber_asm_switch (void **save_sp, void *new_sp);
 *
 * Pushes what the ABI makes callee-saved (rbx, rbp, r12-r15, the MXCSR
 * control bits and the x87 control word) on the current stack, stores the
 * resulting stack pointer in *save_sp, then loads new_sp and pops the same
 * layout from there.  Everything else is caller-saved, so the C caller has
 * already spilled what it needs.  Frame, from new_sp upwards:
 *
 *   +0   MXCSR (4 bytes), x87 control word (2 bytes), 2 bytes of padding
 *   +8   r15
 *   +16  r14
 *   +24  r13
 *   +32  r12
 *   +40  rbx
 *   +48  rbp
 *   +56  return address
 *
 * MXCSR and the control word are reloaded only when they differ from the
 * values being left, which has the same effect as reloading them always.
 *
 * On entry rsp is 8 mod 16 (the call pushed the return address); after six
 * pushes and 8 bytes for the control words it is 16-byte aligned, so every
 * saved stack pointer is.  gasync-fiber.c builds the same frame for a new
 * fiber with r12 = func, r13 = data, rbp = 0 and gasync_fiber_asm_entry as
 * the return address, with the frame ending at the page-aligned stack top.
 */

#if defined(__x86_64__) && defined(__ELF__) && !defined(__ILP32__)

#if defined(__CET__) && (__CET__ & 1)
# define ENDBR endbr64
#else
# define ENDBR
#endif

        .text

        .globl  gasync_fiber_asm_switch
        .hidden gasync_fiber_asm_switch
        .type   gasync_fiber_asm_switch, @function
        .p2align 4
gasync_fiber_asm_switch:
        .cfi_startproc
        ENDBR
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbp, 0
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbx, 0
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r12, 0
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r13, 0
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r14, 0
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r15, 0
        subq    $8, %rsp
        .cfi_adjust_cfa_offset 8
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        /* Same-size reloads, so that they forward from the stores. */
        movl    (%rsp), %eax
        movzwl  4(%rsp), %ecx

        /* The switch proper.  The frame has the same shape on both stacks,
         * so the CFI stays true after it. */
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp

        /* Loading MXCSR and especially the x87 control word is slow, and
         * fibers almost never change them: load only what differs. */
        cmpl    (%rsp), %eax
        jne     .Lload_mxcsr
        cmpw    4(%rsp), %cx
        jne     .Lload_fcw
.Lpop:
        .cfi_remember_state
        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        popq    %r15
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r15
        popq    %r14
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r14
        popq    %r13
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r13
        popq    %r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r12
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbx
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbp
        ret
        .cfi_restore_state
.Lload_mxcsr:
        ldmxcsr (%rsp)
        cmpw    4(%rsp), %cx
        je      .Lpop
.Lload_fcw:
        fldcw   4(%rsp)
        jmp     .Lpop
        .cfi_endproc
        .size   gasync_fiber_asm_switch, .-gasync_fiber_asm_switch

/*
 * First code run by a new fiber, "returned to" by gasync_fiber_asm_switch.
 * rsp is 16-byte aligned here (the frame ends at the stack top), as a call
 * requires.  The return address is marked undefined so that debuggers and
 * unwinders stop at this, the outermost frame.
 */
        .globl  gasync_fiber_asm_entry
        .hidden gasync_fiber_asm_entry
        .type   gasync_fiber_asm_entry, @function
        .p2align 4
gasync_fiber_asm_entry:
        .cfi_startproc
        .cfi_undefined %rip
        ENDBR
        movq    %r12, %rdi
        movq    %r13, %rsi
        call    gasync_fiber_enter
        /* gasync_fiber_enter never returns. */
        ud2
        .cfi_endproc
        .size   gasync_fiber_asm_entry, .-gasync_fiber_asm_entry

#if defined(__CET__) && (__CET__ & 3)
/*
 * GNU property note: this object is compatible with IBT (every global entry
 * starts with endbr64) and, when the build asks for it, with SHSTK.  The
 * switch does not move shadow stacks; gasync-fiber.c therefore falls back to
 * glibc's ucontext, which does, when it finds a shadow stack active.
 */
        .section .note.gnu.property, "a"
        .p2align 3
        .long   4                       /* name size: "GNU\0" */
        .long   16                      /* descriptor size */
        .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000002              /* GNU_PROPERTY_X86_FEATURE_1_AND */
        .long   4                       /* property data size */
        .long   (__CET__ & 3)           /* IBT = 1, SHSTK = 2 */
        .p2align 3
#endif

#endif /* __x86_64__ && __ELF__ */

#if defined(__ELF__)
        .section .note.GNU-stack, "", @progbits
#endif
