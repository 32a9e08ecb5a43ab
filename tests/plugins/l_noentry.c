/* Test plugin: a shared object that exports nothing of Mycelia's. */
#include <mycelia/plugin.h>

/* Exported, but not an entry symbol. */
MYC_EXPORT int l_noentry_answer(void);

/* Something to export so the object is not empty. */
int l_noentry_answer(void) { return 42; }
