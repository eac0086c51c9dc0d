//go:build !linux

package main

import "syscall"

// childAttr: outside Linux there is no parent-death signal; the tests'
// cleanups kill every process they started.
func childAttr() *syscall.SysProcAttr { return nil }
