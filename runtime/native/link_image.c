/* Placing a linked image of compiled code (jit/objload.py's link plans): copy the image
 * into its mapping and patch its relocation records in one call, instead of a Python
 * loop of struct.pack_into per relocation.  Appended to native.c's source by
 * build_ffi.py (one extension module).
 *
 * A record is 24 bytes, little-endian (objload.RELOCATION_RECORD):
 *   uint64 offset   where in the image the 64-bit value goes
 *   int64  addend
 *   uint32 symbol   index into `symbols` (when the SYMBOL flag is set)
 *   uint32 flags    SYMBOL: add symbols[symbol]; BASE: add the mapping's address;
 *                   PCREL: subtract the place (mapping address + offset)
 * Records come from a file (a warm start's pack), so each is checked before anything is
 * written: a record outside the image or naming a symbol past `nsymbols` refuses the
 * whole image (returns the 1-based number of the first bad record; (size_t)-1: an image
 * larger than its mapping; 0: done). */

#define PYJITWASM_RELOC_SYMBOL 1u
#define PYJITWASM_RELOC_BASE 2u
#define PYJITWASM_RELOC_PCREL 4u

struct pyjitwasm_reloc_record {
    uint64_t offset;
    int64_t addend;
    uint32_t symbol;
    uint32_t flags;
};

size_t pyjitwasm_link_image(uintptr_t base, size_t size, const uint8_t *image,
                            size_t image_size, const uint8_t *records, size_t count,
                            const uint64_t *symbols, size_t nsymbols)
{
    if (image_size > size)
        return (size_t)-1;
    for (size_t i = 0; i < count; i++) {
        struct pyjitwasm_reloc_record r;
        memcpy(&r, records + i * sizeof r, sizeof r);
        if (image_size < 8 || r.offset > image_size - 8)
            return i + 1;
        if ((r.flags & PYJITWASM_RELOC_SYMBOL) && r.symbol >= nsymbols)
            return i + 1;
        if (r.flags & ~(PYJITWASM_RELOC_SYMBOL | PYJITWASM_RELOC_BASE | PYJITWASM_RELOC_PCREL))
            return i + 1;
    }
    uint8_t *dest = (uint8_t *)base;
    memcpy(dest, image, image_size);
    for (size_t i = 0; i < count; i++) {
        struct pyjitwasm_reloc_record r;
        memcpy(&r, records + i * sizeof r, sizeof r);
        uint64_t value = (uint64_t)r.addend;
        if (r.flags & PYJITWASM_RELOC_SYMBOL)
            value += symbols[r.symbol];
        if (r.flags & PYJITWASM_RELOC_BASE)
            value += (uint64_t)base;
        if (r.flags & PYJITWASM_RELOC_PCREL)
            value -= (uint64_t)base + r.offset;
        memcpy(dest + r.offset, &value, 8);
    }
    return 0;
}

#include <errno.h>

/* A linked image's whole placing in one call (objload.map_image): map `total` bytes,
 * place `image` with its records applied (pyjitwasm_link_image), make the first
 * `code_size` bytes read-execute and the rest read-only.  The mapping's address; 0 with
 * *bad set to the link's refusal (a record number, or (size_t)-1), or with *bad 0 and
 * errno set when mmap or mprotect failed (nothing is left mapped then). */
uintptr_t pyjitwasm_map_image(size_t code_size, size_t total, const uint8_t *image,
                              size_t image_size, const uint8_t *records, size_t count,
                              const uint64_t *symbols, size_t nsymbols, size_t *bad)
{
    *bad = 0;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_POPULATE
    flags |= MAP_POPULATE;
#endif
    void *memory = mmap(NULL, total, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (memory == MAP_FAILED)
        return 0;
    uintptr_t base = (uintptr_t)memory;
    size_t refused = pyjitwasm_link_image(base, total, image, image_size, records, count,
                                          symbols, nsymbols);
    if (refused != 0) {
        munmap(memory, total);
        *bad = refused;
        return 0;
    }
    if ((code_size && mprotect(memory, code_size, PROT_READ | PROT_EXEC) != 0) ||
        (total > code_size &&
         mprotect((uint8_t *)memory + code_size, total - code_size, PROT_READ) != 0)) {
        int saved = errno;
        munmap(memory, total);
        errno = saved;
        return 0;
    }
    return base;
}

/* The mappings of linear memories (runtime/jit/vm.py): mmap, munmap, mprotect and
 * madvise with addresses as integers, through cffi rather than ctypes (a ctypes call
 * costs several times as much, and its first call of each function ~20 us more, which
 * fell in every program's first instantiation).  pyjitwasm_vm_map returns
 * (uintptr_t)-1 on failure (errno set), as mmap's MAP_FAILED. */
uintptr_t pyjitwasm_vm_map(uintptr_t address, size_t size, int prot, int flags, int fd,
                           int64_t offset)
{
    void *got = mmap((void *)address, size, prot, flags, fd, (off_t)offset);
    return got == MAP_FAILED ? UINTPTR_MAX : (uintptr_t)got;
}

int pyjitwasm_vm_unmap(uintptr_t address, size_t size)
{
    return munmap((void *)address, size);
}

int pyjitwasm_vm_protect(uintptr_t address, size_t size, int prot)
{
    return mprotect((void *)address, size, prot);
}

int pyjitwasm_vm_advise(uintptr_t address, size_t size, int advice)
{
    return madvise((void *)address, size, advice);
}
