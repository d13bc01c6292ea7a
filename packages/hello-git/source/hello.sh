#!/bin/sh
echo "hello from a git_local source"
