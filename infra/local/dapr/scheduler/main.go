// Command scheduler is Dapr's scheduler service (workflow timers and reminders).
package main

import "github.com/dapr/dapr/cmd/scheduler/app"

func main() {
	app.Run()
}
