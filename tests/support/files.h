/* Files for tests that serve or read a directory tree. */
#ifndef TWINE_TESTS_FILES_H
#define TWINE_TESTS_FILES_H

/* Writes content to dir/name (created or truncated); fails the running test when it cannot. */
void tw_test_write_file(const char *dir, const char *name, const char *content);

#endif
