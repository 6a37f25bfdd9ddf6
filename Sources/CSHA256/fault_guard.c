// Reading a file through a mapping raises SIGBUS where the file has been truncated since it was mapped. The
// import hashes files in place through mappings, so a file that shrinks while it is imported must become an
// error, not a crash: a fault inside a guarded call jumps back out of it.
#include "CSHA256.h"
#include "fault_guard.h"
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

static __thread sigjmp_buf *activeGuard;
static struct sigaction previousAction;
static pthread_once_t installation = PTHREAD_ONCE_INIT;

static void onBusError(int signal, siginfo_t *information, void *context) {
    (void)information;
    (void)context;
    if (activeGuard) siglongjmp(*activeGuard, 1);
    // Not a guarded read: put back what was there and return, so the faulting instruction runs again under it.
    sigaction(signal, &previousAction, NULL);
}

static void install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = onBusError;
    // SA_NODEFER: a jump out of the handler would otherwise leave SIGBUS blocked on this thread.
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &previousAction);
}

int csha256_guarded(void (*body)(void *context), void *context) {
    pthread_once(&installation, install);
    sigjmp_buf guard;
    if (sigsetjmp(guard, 0)) {
        activeGuard = NULL;
        return CSHA256_FAULT;
    }
    activeGuard = &guard;
    body(context);
    activeGuard = NULL;
    return 0;
}

typedef struct {
    void *destination;
    const void *source;
    size_t length;
} CopyArguments;

static void copyBody(void *context) {
    CopyArguments *arguments = context;
    memcpy(arguments->destination, arguments->source, arguments->length);
}

int csha256_copy(void *destination, const void *source, size_t length) {
    CopyArguments arguments = {destination, source, length};
    return csha256_guarded(copyBody, &arguments);
}
