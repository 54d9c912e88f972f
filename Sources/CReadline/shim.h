// GNU readline and its history (libreadline-dev).
#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>
