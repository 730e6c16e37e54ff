/* Test shared object that exports a function but no kiln_plugin descriptor, so the loader must refuse it. */
#include <kiln.h>

KILN_EXPORT int no_descriptor_answer(void);

int no_descriptor_answer(void)
{
    return 42;
}
