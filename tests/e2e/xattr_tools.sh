# xattr_tools.sh DIR SECTION — the attr package's getfattr and setfattr, cp
# and ls on extended attributes in DIR, for the differential test
# (tests/test_e2e_diff.c, Test(e2e_diff, xattr_tools)): the same output on
# a tmpfs directory and on a store directory. Attribute lists are sorted
# (tmpfs lists in the order of its hash table); paths are relative to DIR,
# which getfattr prints as given.
D=$1
cd "$D" || exit 2
r() { echo "$1 -> $?"; }

echo data > f
mkdir d
ln -s f l
setfattr -n user.a -v hello f; r "setfattr user.a f"
setfattr -n user.b -v 0x00ff41 f; r "setfattr user.b f"
setfattr -n user.c f; r "setfattr user.c (empty) f"
setfattr -n trusted.t -v t f 2>&1; r "setfattr trusted.t f"
setfattr -n user.x -v 1 nope 2>&1; r "setfattr missing"
setfattr -n bogus.x -v 1 f 2>&1; r "setfattr bogus.x"
getfattr -d f | sort; r "getfattr -d f"
getfattr -d -m - -e hex f | sort; r "getfattr -d -m - -e hex f"
getfattr -n user.a --only-values f; echo; r "getfattr --only-values"
getfattr -n user.none f 2>&1; r "getfattr missing name"
getfattr -n user.a nope 2>&1; r "getfattr missing file"
setfattr -x user.a f; r "setfattr -x user.a"
setfattr -x user.a f 2>&1; r "setfattr -x user.a again"
getfattr -d f | sort
# symlinks: -h acts on the link, user.* is refused there
setfattr -h -n user.x -v 1 l 2>&1; r "setfattr -h user.x l"
setfattr -h -n trusted.x -v 1 l 2>&1; r "setfattr -h trusted.x l"
setfattr -n user.via -v l l; r "setfattr user.via l (follows)"
getfattr -h -d -m - l | sort
getfattr -d f | sort
# directories, recursion
setfattr -n user.dir -v d d; r "setfattr user.dir d"
echo x > d/g
setfattr -n user.g -v g d/g
getfattr -R -d . | sort; r "getfattr -R"
# --dump and --restore
getfattr -d -m - -R d > dump 2>/dev/null
setfattr -x user.g d/g
setfattr --restore=dump; r "setfattr --restore"
rm -f dump
getfattr -n user.g --only-values d/g; echo
# cp keeps them when asked to; mv within the directory always
cp --preserve=xattr f p; r "cp --preserve=xattr"
getfattr -d -m - p | sort
cp f q; getfattr -d q | sort; r "cp without"
cp -a d e; r "cp -a d e"
getfattr -R -d -m - e | sort
mv f m; getfattr -d m | sort
# a value of the largest size
head -c 65536 /dev/zero | tr '\0' 'z' > big
setfattr -n user.big -v "$(cat big)" m 2>&1; r "setfattr 64K"
getfattr -n user.big --only-values m | wc -c
# ls of the directory, its parent and grandparent: no errors (ls asks for
# the ACL and security attributes of each entry, ".." among them)
ls -la . > /dev/null; r "ls -la ."
ls -la .. 2>&1 > /dev/null; r "ls -la .."
ls -la ../.. 2>&1 > /dev/null; r "ls -la ../.."
ls -la "$D/.." 2>&1 > /dev/null; r "ls -la D/.."
ls -lad "$D/../.." 2>&1 > /dev/null; r "ls -lad D/../.."
getfattr -h -d .. 2>&1; r "getfattr .."
exit 0
