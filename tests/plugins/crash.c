/* Test plugin serving GET /crash, which writes through a NULL pointer so that its worker dies of SIGSEGV. */
#include <signal.h>
#include <stddef.h>
#include <sys/resource.h>
#include <kiln.h>

/* Kept out of the sanitizers' reach: the test wants the kernel's SIGSEGV,
 * not a sanitizer report (which would also exit with another status). */
__attribute__((no_sanitize("address", "undefined"), noinline))
static void null_write(void)
{
    struct rlimit none = { 0, 0 };
    volatile int *volatile p = NULL;

    setrlimit(RLIMIT_CORE, &none);      /* no core file in the test dir */
    signal(SIGSEGV, SIG_DFL);           /* past any handler a sanitizer set */
    *p = 1;
}

static int crash(kiln_req *req, void *data)
{
    (void)data;
    null_write();
    return kiln_text(req, 500, "still alive\n");
}

static int init(kiln_app *app)
{
    return kiln_add_get(app, "/crash", crash, NULL) == 0 ? 0 : 1;
}

KILN_PLUGIN("crash", init, NULL);
