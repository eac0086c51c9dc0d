package main

import "syscall"

// childAttr makes a test's ringlimit process get SIGKILL when the test
// binary dies (a panic or a -timeout), so no node outlives its test even
// when the cleanups cannot run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
