// GNU readline and its history (libreadline-dev).
#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>

#include <signal.h>
#include <sys/select.h>

// Waits until fd can be read, with the signal mask `mask` in force only while waiting
// (pselect(2)): a signal blocked outside can end the wait but never slips in before it.
static inline int mlpsh_wait_readable(int fd, const sigset_t *mask) {
    fd_set set;
    FD_ZERO(&set);
    FD_SET(fd, &set);
    return pselect(fd + 1, &set, NULL, NULL, NULL, mask);
}
