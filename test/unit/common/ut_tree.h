/* SPDX-License-Identifier: BSD-3-Clause */
/* Fixture trees for unit tests that read sysfs or procfs: a private
 * directory under /tmp, files written with their parents, removed after. */
#ifndef UT_TREE_H
#define UT_TREE_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char ut_tree_root[64];     /* /tmp/tern-ut-tree-XXXXXX */

static inline void
ut_tree_make(void)
{
    snprintf(ut_tree_root, sizeof(ut_tree_root), "/tmp/tern-ut-tree-XXXXXX");
    cr_assert_not_null(mkdtemp(ut_tree_root), "mkdtemp");
}

/* mkdir -p root/rel */
static inline void
ut_tree_dir(const char *rel)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", ut_tree_root, rel);
    for (char *p = path + strlen(ut_tree_root) + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    mkdir(path, 0755);
}

/* Write `text` to root/rel, creating its directories. */
static inline void
ut_tree_put(const char *rel, const char *text)
{
    char path[PATH_MAX], dir[256];
    char *slash;
    FILE *f;

    snprintf(dir, sizeof(dir), "%s", rel);
    slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        ut_tree_dir(dir);
    }
    snprintf(path, sizeof(path), "%s/%s", ut_tree_root, rel);
    f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static inline int
ut_tree_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void
ut_tree_remove(void)
{
    if (ut_tree_root[0] != '\0')
        nftw(ut_tree_root, ut_tree_rm, 16, FTW_DEPTH | FTW_PHYS);
    ut_tree_root[0] = '\0';
}

#endif
